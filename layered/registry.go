package layered

import (
	"hash/maphash"
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// registry holds a provider's ops that a packet may still come for, by
// the address of the Overlapped each passed down (see op). A worker looks
// a packet's Overlapped up here before it reads anything through it: a
// packet can carry any Overlapped, a client's included, which its owner
// may be rewriting as the worker dequeues it, so the kit compares the
// pointer and never reads what it points to unless it is an op's own.
//
// The ops are spread over shards by a hash of that address, so that the
// issuing threads and the workers of the provider's layers, each
// registering and taking their own ops, seldom meet on one lock (one map
// under one mutex was half the lock time of a three-layer chain, with
// spinning; bench/README.md, "layered").
type registry struct {
	seed   maphash.Seed
	shards [registryShards]registryShard
}

// registryShards is the number of shards, a power of two.
const registryShards = 64

// registryShard is one shard, alone on its cache line (64 bytes on amd64
// and most arm64 cores), so that two CPUs using neighbouring shards do
// not move each other's line.
type registryShard struct {
	mu sync.Mutex
	m  map[*spi.Overlapped]*op
	_  [64 - 16]byte
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = map[*spi.Overlapped]*op{}
	}
	return r
}

func (r *registry) shard(ov *spi.Overlapped) *registryShard {
	return &r.shards[maphash.Comparable(r.seed, ov)%registryShards]
}

// add registers o under its Overlapped.
func (r *registry) add(o *op) {
	sh := r.shard(&o.ov)
	sh.mu.Lock()
	sh.m[&o.ov] = o
	sh.mu.Unlock()
}

// take returns the op registered under ov and unregisters it, or nil.
func (r *registry) take(ov *spi.Overlapped) *op {
	sh := r.shard(ov)
	sh.mu.Lock()
	o := sh.m[ov]
	if o != nil {
		delete(sh.m, ov)
	}
	sh.mu.Unlock()
	return o
}

// dropInstance unregisters every op of instance in, at its last
// WSPCleanup: a packet that comes for one of them later is foreign.
func (r *registry) dropInstance(in *Instance) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for ov, o := range sh.m {
			if o.sock.in == in { // abandoned below, or already ended
				delete(sh.m, ov)
			}
		}
		sh.mu.Unlock()
	}
}
