package faulty

import (
	"fmt"
	"strings"
	"sync"
	"syscall"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Injector decides which operations fail (or pause) and how. Build one with
// [OnIndex], [OnName], [Always] or [TornPut] and refine it with its methods,
// which return the injector for chaining. An injector belongs to one wrapper.
// By default a firing injector fails the operation with an [InjectedError].
type Injector struct {
	ops    Op
	substr string // name filter; "" matches all
	index  int    // fire on the index-th matching operation; -1: on every one
	desc   string

	err   error // wrapped in the InjectedError
	torn  bool
	keep  int64 // bytes a torn Put keeps; < 0: half
	gate  *Gate
	fails bool // whether the operation fails after the gate

	// Guarded by the wrapper's mutex.
	seen  int // matching operations so far
	fired int
}

// OnIndex fails the n-th operation (counting from 0) among those in ops; no
// ops means any operation.
func OnIndex(n int, ops ...Op) *Injector {
	o := Ops(ops...)
	return &Injector{ops: o, index: n, fails: true, keep: -1, desc: fmt.Sprintf("OnIndex(%d, %s)", n, o)}
}

// OnName fails every operation in ops whose object name (or List prefix)
// contains substr.
func OnName(substr string, ops ...Op) *Injector {
	o := Ops(ops...)
	return &Injector{ops: o, substr: substr, index: -1, fails: true, keep: -1,
		desc: fmt.Sprintf("OnName(%q, %s)", substr, o)}
}

// Always fails every operation in ops.
func Always(ops ...Op) *Injector {
	o := Ops(ops...)
	return &Injector{ops: o, index: -1, fails: true, keep: -1, desc: fmt.Sprintf("Always(%s)", o)}
}

// TornPut makes the n-th Put (counting from 0) store a truncated object (half
// the payload) and then fail, like a store that lost the end of a write. It
// proves that callers never trust an object they have not verified.
func TornPut(n int) *Injector {
	in := OnIndex(n, OpPut).Torn(-1)
	in.desc = fmt.Sprintf("TornPut(%d)", n)
	return in
}

// Err makes the injector fail with an [InjectedError] wrapping err.
func (in *Injector) Err(err error) *Injector {
	in.err = err
	in.fails = true
	return in
}

// ENOSPC makes the injector fail like a full disk: the error matches
// [backend.ErrFull] and [syscall.ENOSPC].
func (in *Injector) ENOSPC() *Injector {
	return in.Err(fmt.Errorf("%w (%w)", backend.ErrFull, syscall.ENOSPC))
}

// Torn makes a firing Put store only the first keep bytes of its payload
// (keep < 0: half) before failing. Other operations just fail.
func (in *Injector) Torn(keep int64) *Injector {
	in.torn = true
	in.keep = keep
	in.fails = true
	return in
}

// WaitFor pauses a firing operation at g until g is released (or the
// operation's context ends), before it reaches the store. The operation then
// proceeds normally, unless Err, ENOSPC or Torn is also set, in which case it
// fails after the pause.
func (in *Injector) WaitFor(g *Gate) *Injector {
	in.gate = g
	if in.err == nil && !in.torn {
		in.fails = false
	}
	return in
}

// String describes the injector and its action, e.g.
// `OnName("index/", get) -> fail: backend: store is full (no space left on device)`.
func (in *Injector) String() string {
	var acts []string
	if in.gate != nil {
		acts = append(acts, "wait")
	}
	switch {
	case in.torn && in.keep < 0:
		acts = append(acts, "torn put (half)")
	case in.torn:
		acts = append(acts, fmt.Sprintf("torn put (%d bytes)", in.keep))
	}
	if in.fails {
		if in.err != nil {
			acts = append(acts, "fail: "+in.err.Error())
		} else {
			acts = append(acts, "fail")
		}
	} else {
		acts = append(acts, "proceed")
	}
	return in.desc + " -> " + strings.Join(acts, ", then ")
}

// match counts op against the injector and reports whether it fires. The
// caller holds the wrapper's mutex.
func (in *Injector) match(op Op, name string) bool {
	if in.ops&op == 0 || !strings.Contains(name, in.substr) {
		return false
	}
	i := in.seen
	in.seen++
	return in.index < 0 || i == in.index
}

// Gate pauses operations until released. Create it with [NewGate].
type Gate struct {
	reached, release       chan struct{}
	reachOnce, releaseOnce sync.Once
}

// NewGate returns a shut gate: operations that reach it wait.
func NewGate() *Gate {
	return &Gate{reached: make(chan struct{}), release: make(chan struct{})}
}

// Reached is closed when the first operation arrives at the gate.
func (g *Gate) Reached() <-chan struct{} { return g.reached }

// Release lets every paused operation, and every later one, through. It may
// be called more than once.
func (g *Gate) Release() { g.releaseOnce.Do(func() { close(g.release) }) }

func (g *Gate) wait(done <-chan struct{}) bool {
	g.reachOnce.Do(func() { close(g.reached) })
	select {
	case <-g.release:
		return true
	case <-done:
		return false
	}
}
