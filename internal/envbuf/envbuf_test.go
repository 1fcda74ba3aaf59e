package envbuf

import (
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
