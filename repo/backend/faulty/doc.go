// Package faulty wraps a [backend.Backend] with composable fault injectors,
// for tests that prove callers survive store failures:
//
//	fb := faulty.Wrap(mem.New(),
//		faulty.TornPut(0),                              // the 1st Put stores half, then fails
//		faulty.OnIndex(3, faulty.OpPut),                // the 4th Put fails
//		faulty.OnName("index/", faulty.OpGet).ENOSPC(), // every Get under index/ fails
//	)
//	defer fb.AssertAllFired(t)
//
// Operations are numbered from 0 in order of arrival, and injectors are
// consulted in plan order under one mutex, so counting and firing are
// deterministic for a given order of arrival, also under concurrency. Each
// injector counts every operation that matches its operations and name,
// whether or not another injector acts on it; of the injectors that fire on
// an operation, the first in plan order acts and only it counts as fired.
//
// To hold an operation in a crash window, use a [Gate]:
//
//	g := faulty.NewGate()
//	fb := faulty.Wrap(b, faulty.OnIndex(0, faulty.OpPut).WaitFor(g))
//	go work(fb)
//	<-g.Reached() // the first Put is paused before it reaches the store
//	...           // inspect, cancel, crash
//	g.Release()
//
// For crash-consistency tests, run the workload once on a bare wrapper and
// read [Backend.Count], then rerun it failing operation n for every n below
// that count, and check the repository after each run.
//
// Operations that no injector claims go straight to the wrapped store (a
// wrapper without injectors passes the conformance suite). Unwrap exposes the
// wrapped store, so [backend.As] finds capabilities such as
// [backend.Retainer]; those calls are not fault-injected.
package faulty
