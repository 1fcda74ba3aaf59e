package freelist

import (
	"testing"
	"time"
)

// TestKeep: values given back are handed out again, last in first out, up
// to Keep of them; an empty list says so.
func TestKeep(t *testing.T) {
	l := &List[*int]{Keep: 2, Idle: time.Minute}
	defer l.Stop()
	if _, ok := l.Get(); ok {
		t.Fatal("an empty list returned a value")
	}
	a, b, c := new(int), new(int), new(int)
	l.Put(a)
	l.Put(b)
	l.Put(c) // over Keep: not kept
	if n := l.Len(); n != 2 {
		t.Fatalf("%d values kept, want 2", n)
	}
	if x, ok := l.Get(); !ok || x != b {
		t.Fatal("Get did not return the last value kept")
	}
	if x, ok := l.Get(); !ok || x != a {
		t.Fatal("Get did not return the first value kept")
	}
	if _, ok := l.Get(); ok {
		t.Fatal("a value put over Keep was kept")
	}
}

// TestDropWhenIdle: the kept values go once none has come back for Idle,
// stay while they keep coming back, and the list works again after.
func TestDropWhenIdle(t *testing.T) {
	l := &List[[]byte]{Keep: 4, Idle: 300 * time.Millisecond}
	defer l.Stop()
	l.Put(make([]byte, 8))
	for range 10 {
		x, ok := l.Get()
		if !ok {
			t.Fatal("a value was dropped while the list was in use")
		}
		l.Put(x)
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("values kept 10 s after the list went idle (Idle 300 ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.Put(make([]byte, 8))
	if _, ok := l.Get(); !ok {
		t.Fatal("no value right after a Put that followed a drop")
	}
}

// TestStop: Stop lets the values go and the timer does not fire after.
func TestStop(t *testing.T) {
	l := &List[int]{Keep: 1, Idle: time.Millisecond}
	l.Put(1)
	l.Stop()
	if l.Len() != 0 {
		t.Fatal("values kept after Stop")
	}
}
