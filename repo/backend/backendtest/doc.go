// Package backendtest is the conformance suite for [backend.Backend]
// implementations. Every store and every pass-through decorator runs it:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
//	}
//
// newBackend must return an empty store for each subtest. The suite covers
// absent objects, put/get, range get, stat, list by prefix, idempotent re-put,
// overwrite, double delete, concurrent puts, a large object, name validation,
// payload length checks and context cancellation.
package backendtest
