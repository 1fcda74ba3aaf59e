package repo

import (
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/pack"
)

// TestBuilderPoolDropsWhenIdle: landed packs' builders are reused while
// packs keep landing, at most maxFreeBuilders of them, and let go once no
// pack has landed for the idle time.
func TestBuilderPoolDropsWhenIdle(t *testing.T) {
	p := newBuilderPool(200 * time.Millisecond)
	defer p.stop()
	for range maxFreeBuilders + 2 {
		b := pack.NewBuilder()
		b.Grow(1 << 20)
		p.put(b)
	}
	kept := 0
	for {
		if _, ok := p.list.Get(); !ok {
			break
		}
		kept++
	}
	if kept != maxFreeBuilders {
		t.Fatalf("kept %d builders, want %d", kept, maxFreeBuilders)
	}
	p.put(pack.NewBuilder())
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := p.list.Len()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d builders still kept 10 s after the last put (idle time 200 ms)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The pool works again after dropping.
	p.put(pack.NewBuilder())
	if _, ok := p.list.Get(); !ok {
		t.Fatal("no builder right after a put")
	}
}
