package catalog

import (
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// Registry stands in for the provider DLL files of a machine: it maps a
// "DLL path", as installed in the catalog, to the provider's startup
// function, its one export (WSPStartup). Loading a provider is looking its
// path up here.
//
// Paths are compared as exact strings. Environment strings such as
// %SystemRoot% are not expanded, on registration or on lookup, so a provider
// is registered under the same string it is installed with (Windows expands
// them and compares case-insensitively; the simulator does neither).
//
// The zero value is an empty registry ready for use. A Registry is safe for
// concurrent use.
type Registry struct {
	mu   sync.RWMutex                  // guards dlls
	dlls map[string]spi.WSPStartupFunc // path → startup function
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register places a provider "DLL" at path, replacing whatever was there, as
// copying a new DLL over an old one would. Processes that already loaded the
// old one keep it. A nil startup function is a programming error and panics.
func (r *Registry) Register(path string, startup spi.WSPStartupFunc) {
	if startup == nil {
		panic("catalog: Registry.Register with a nil startup function for " + path)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dlls == nil {
		r.dlls = map[string]spi.WSPStartupFunc{}
	}
	r.dlls[path] = startup
}

// Unregister removes the "DLL" at path, if any. Later loads of it fail with
// WSAEPROVIDERFAILEDINIT.
func (r *Registry) Unregister(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dlls, path)
}

// Lookup returns the startup function registered at path (LoadLibrary plus
// GetProcAddress("WSPStartup")), and whether there is one.
func (r *Registry) Lookup(path string) (spi.WSPStartupFunc, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.dlls[path]
	return fn, ok
}
