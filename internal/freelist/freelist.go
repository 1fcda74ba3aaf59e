package freelist

import (
	"sync"
	"time"
)

// List is a free list of values of one kind. Set Keep and Idle before the
// first use; the zero value keeps nothing. A List is safe for concurrent
// use and must not be copied after first use.
type List[T any] struct {
	Keep int           // the most values kept
	Idle time.Duration // kept values go once none has come back for this long

	mu   sync.Mutex
	free []T
	idle *time.Timer
}

// Get returns a kept value and true, or the zero value and false when none
// is kept.
func (l *List[T]) Get() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var zero T
	n := len(l.free)
	if n == 0 {
		return zero, false
	}
	x := l.free[n-1]
	l.free[n-1] = zero
	l.free = l.free[:n-1]
	return x, true
}

// Put keeps x for a later Get, unless Keep values are kept already, and
// starts the idle time anew.
func (l *List[T]) Put(x T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) < l.Keep {
		l.free = append(l.free, x)
	}
	if l.idle == nil {
		l.idle = time.AfterFunc(l.Idle, l.drop)
	} else {
		l.idle.Reset(l.Idle)
	}
}

// Len returns how many values are kept.
func (l *List[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.free)
}

// Stop lets every kept value go and cancels the idle timer.
func (l *List[T]) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idle != nil {
		l.idle.Stop()
	}
	clear(l.free)
	l.free = nil
}

// drop lets the garbage collector have the kept values.
func (l *List[T]) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.free)
	l.free = l.free[:0]
}
