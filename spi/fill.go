package spi

import "reflect"

// Missing returns the names of the nil entries of t, in header order. A
// table with any is what ws2_32 rejects with WSAEINVALIDPROCTABLE.
func (t *WSPProcTable) Missing() []string { return nilFuncFields(reflect.ValueOf(t).Elem()) }

// Missing returns the names of the nil entries of t, in header order.
func (t *WSPUpcallTable) Missing() []string { return nilFuncFields(reflect.ValueOf(t).Elem()) }

// FillNotSupported sets every nil entry of t to a function that returns zero
// values and WSAEOPNOTSUPP, so a small provider implements only what it
// needs and still passes the WSAEINVALIDPROCTABLE check. WSPCleanup and
// WSPCancelBlockingCall are filled with functions that succeed instead: a
// provider with nothing to clean up or cancel has nothing to fail.
//
// Filled overlapped entries fail at once, so, as the WSPSend rules require,
// they report no completion.
func (t *WSPProcTable) FillNotSupported() {
	if t.WSPCleanup == nil {
		t.WSPCleanup = func() error { return nil }
	}
	if t.WSPCancelBlockingCall == nil {
		t.WSPCancelBlockingCall = func() error { return nil }
	}
	v := reflect.ValueOf(t).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.IsNil() {
			continue
		}
		f.Set(reflect.MakeFunc(f.Type(), notSupported(f.Type())))
	}
}

// notSupported returns the body of a filled entry of type fn: zero results
// and WSAEOPNOTSUPP in the last (error) result.
func notSupported(fn reflect.Type) func([]reflect.Value) []reflect.Value {
	results := make([]reflect.Value, fn.NumOut())
	for i := range results {
		results[i] = reflect.Zero(fn.Out(i))
	}
	err := error(WSAEOPNOTSUPP)
	results[len(results)-1] = reflect.ValueOf(&err).Elem()
	return func([]reflect.Value) []reflect.Value { return results }
}

func nilFuncFields(v reflect.Value) []string {
	var names []string
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			names = append(names, v.Type().Field(i).Name)
		}
	}
	return names
}
