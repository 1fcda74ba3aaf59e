package envbuf

import (
	"runtime"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

// TestClasses: ascending, from MinClass to MaxEnvelopeSize, each at most
// half again the one before, so no buffer wastes more than a third.
func TestClasses(t *testing.T) {
	if classes[0] != MinClass || classes[len(classes)-1] != format.MaxEnvelopeSize {
		t.Fatalf("classes run %d..%d", classes[0], classes[len(classes)-1])
	}
	for i := 1; i < len(classes); i++ {
		if prev, c := classes[i-1], classes[i]; c <= prev || 2*c > 3*prev {
			t.Fatalf("class %d (%d) after %d", i, c, prev)
		}
	}
}

// TestGetFits: every size up to the largest envelope gets a buffer that
// holds it and is less than half again as large; larger ones get nil.
func TestGetFits(t *testing.T) {
	for _, n := range []int{0, 1, MinClass - 1, MinClass, MinClass + 1, 1 << 20, 1<<20 + 1, 1200 << 10, 12 << 20, format.MaxEnvelopeSize} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n || (n > MinClass && 2*cap(b) > 3*n) {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(b)
	}
	if b := Get(format.MaxEnvelopeSize + 1); b != nil {
		t.Fatalf("Get(max+1): cap %d, want nil", cap(b))
	}
}

// TestPutKeepsOnlyClassSizes: a buffer of a class size comes back from
// Get; one of any other capacity is never handed out.
func TestPutKeepsOnlyClassSizes(t *testing.T) {
	odd := make([]byte, 100, 1<<20+7)
	Put(odd)
	for range 4 {
		if b := Get(1 << 20); cap(b) == cap(odd) {
			t.Fatal("Get returned a buffer of a capacity that is not a class")
		}
	}
	b := Get(1 << 20)
	b = append(b, 1, 2, 3)
	Put(b)
	if got := Get(1 << 20); len(got) != 0 || cap(got) != 1<<20 {
		t.Fatalf("after Put: len %d cap %d", len(got), cap(got))
	}
}

// TestKeptAcrossGC: a buffer put back survives a garbage collection (a
// sync.Pool would not) and comes back from Get; the store keeps no more
// than keepBytes, and drop empties it.
func TestKeptAcrossGC(t *testing.T) {
	kept.drop()
	b := Get(3 << 20)
	p := &b[:1][0]
	Put(b)
	runtime.GC()
	runtime.GC()
	if got := Get(3 << 20); &got[:1][0] != p {
		t.Fatal("the buffer put back did not survive two collections")
	}
	for range 2 * keepBytes / (1 << 20) {
		Put(make([]byte, 0, 1<<20))
	}
	if n := keptBytes(); n > keepBytes || n < keepBytes-(1<<20) {
		t.Fatalf("kept %d bytes, bound %d", n, keepBytes)
	}
	kept.drop()
	if n := keptBytes(); n != 0 {
		t.Fatalf("after drop: %d bytes kept", n)
	}
}
