package envbuf

import (
	"slices"
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/format"
)

// MinClass is the smallest class. Smaller envelopes are better served by
// the allocator's own size classes.
const MinClass = 16 << 10

const (
	// keepBytes bounds the capacity of the buffers kept for reuse, all
	// classes together: about one upload message's worth (8 MiB), what a
	// stream in steady state needs back. Kept buffers are live heap, which
	// the collector's target multiplies: in the issue 5 benchmark 32 MiB
	// cost the client 55-65 MiB and the server 45-90 MiB of peak RSS during
	// restores and saved no CPU over 8 MiB (nor did 64 over 32 during
	// uploads).
	keepBytes = 8 << 20
	// keepIdle is how long kept buffers outlive the last Put: they span
	// the gaps between the streams of one backup or restore, and an idle
	// server gives them back.
	keepIdle = time.Minute
)

var classes = sizeClasses()

func sizeClasses() []int {
	var cs []int
	for c := MinClass; c < format.MaxEnvelopeSize; c *= 2 {
		cs = append(cs, c)
		if mid := c + c/2; mid < format.MaxEnvelopeSize {
			cs = append(cs, mid)
		}
	}
	return append(cs, format.MaxEnvelopeSize)
}

// class returns the index of the smallest class holding n bytes, or -1.
func class(n int) int {
	i, _ := slices.BinarySearch(classes, n)
	if i == len(classes) {
		return -1
	}
	return i
}

// kept is the process's store of free buffers. Unlike a sync.Pool it
// survives garbage collections: a busy server collects every few dozen
// megabytes it allocates, and a pool emptied that often hands out fresh
// buffers, which is the allocation churn this package exists to avoid.
var kept = store{free: make([][][]byte, len(classes))}

type store struct {
	mu    sync.Mutex
	free  [][][]byte // per class, a stack of empty buffers
	bytes int        // their capacity, all classes together
	idle  *time.Timer
}

// Get returns an empty buffer with room for n bytes, or nil when n is
// larger than any class (the caller then allocates).
func Get(n int) []byte {
	i := class(n)
	if i < 0 {
		return nil
	}
	if b := kept.take(i); b != nil {
		return b
	}
	return make([]byte, 0, classes[i])
}

// Put keeps b for a later Get if its capacity is one of the classes and
// the store has room; any other buffer is left to the garbage collector.
// The caller must not use b afterwards.
func Put(b []byte) {
	i := class(cap(b))
	if i < 0 || cap(b) != classes[i] {
		return
	}
	kept.put(i, b[:0])
}

func (s *store) take(i int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	stack := s.free[i]
	if len(stack) == 0 {
		return nil
	}
	b := stack[len(stack)-1]
	stack[len(stack)-1] = nil
	s.free[i] = stack[:len(stack)-1]
	s.bytes -= cap(b)
	return b
}

func (s *store) put(i int, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes+cap(b) <= keepBytes {
		s.free[i] = append(s.free[i], b)
		s.bytes += cap(b)
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(keepIdle, s.drop)
	} else {
		s.idle.Reset(keepIdle)
	}
}

// drop lets every kept buffer go.
func (s *store) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.free {
		clear(s.free[i])
		s.free[i] = s.free[i][:0]
	}
	s.bytes = 0
}

// keptBytes reports the capacity kept, for tests.
func keptBytes() int {
	kept.mu.Lock()
	defer kept.mu.Unlock()
	return kept.bytes
}
