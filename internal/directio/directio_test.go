package directio

import (
	"testing"
	"time"
	"unsafe"
)

func TestBuffer(t *testing.T) {
	for _, n := range []int{1, Align, 3*Align + 5, 1 << 20} {
		b := Buffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("Buffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if addr := uintptr(unsafe.Pointer(&b[0])); addr%Align != 0 {
			t.Fatalf("Buffer(%d) at %#x: not aligned to %d", n, addr, Align)
		}
	}
}

func TestAlign(t *testing.T) {
	for _, c := range []struct{ off, down, up int64 }{
		{0, 0, 0}, {1, 0, Align}, {Align - 1, 0, Align}, {Align, Align, Align}, {Align + 1, Align, 2 * Align},
	} {
		if got := AlignDown(c.off); got != c.down {
			t.Errorf("AlignDown(%d) = %d, want %d", c.off, got, c.down)
		}
		if got := AlignUp(c.off); got != c.up {
			t.Errorf("AlignUp(%d) = %d, want %d", c.off, got, c.up)
		}
	}
}

// TestBuffers: a buffer given back is the one handed out next, up to the
// list's capacity.
func TestBuffers(t *testing.T) {
	bs := NewBuffers(2*Align, 1)
	a, b := bs.Get(), bs.Get()
	if &a[0] == &b[0] || len(a) != 2*Align {
		t.Fatal("two Gets returned the same buffer, or the wrong size")
	}
	bs.Put(a[:1])
	bs.Put(b) // over capacity: dropped
	if c := bs.Get(); &c[0] != &a[0] || len(c) != 2*Align {
		t.Fatal("Get after Put did not return the kept buffer at full length")
	}
	if d := bs.Get(); &d[0] == &b[0] {
		t.Fatal("a buffer put over capacity was kept")
	}
}

// TestBuffersDropWhenIdle: the kept buffers go once none has come back
// for the idle time, and stay while they keep coming back.
func TestBuffersDropWhenIdle(t *testing.T) {
	bs := newBuffers(Align, 4, 500*time.Millisecond)
	for range 10 {
		bs.Put(bs.Get())
		if n := bs.kept(); n != 1 {
			t.Fatalf("%d buffers kept while in use, want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for bs.kept() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the buffers were kept after the list went idle")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
