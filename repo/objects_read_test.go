package repo

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
)

// stall wraps b so that every op of kind op waits for its context and
// never reaches b (a gate that is never released), as an S3 endpoint
// behind a partition that drops packets does. Fired counts them.
func stall(b backend.Backend, op faulty.Op) *faulty.Backend {
	return faulty.Wrap(b, faulty.Always(op).WaitFor(faulty.NewGate()))
}

// TestMetaReadsHedgeAroundAStalledStore: a meta object (a snapshot's
// header or references) whose first copy sits on a store that stopped
// answering is read from the next copy once HedgeAfter has passed, and
// later reads ask that store last, without waiting for it.
func TestMetaReadsHedgeAroundAStalledStore(t *testing.T) {
	ctx := context.Background()
	stores, _ := localStores(t, 6)
	r0 := openRepo(t, testConfig(t, stores, 4, 2))
	obj := []byte("a snapshot header")
	ref, err := r0.putMeta(ctx, "delta/snapshots/hedge.hdr", backend.Bytes(obj), hashOf(obj))
	if err != nil {
		t.Fatal(err)
	}
	first := r0.metaCandidates(ref)[0]
	r0.Close(ctx)
	stalled := stall(stores[first].Backend, faulty.OpGet)
	stores[first].Backend = stalled
	cfg := testConfig(t, stores, 4, 2)
	const hedgeAfter = 100 * time.Millisecond
	cfg.HedgeAfter = hedgeAfter
	r := openRepo(t, cfg)
	defer r.Close(ctx)

	start := time.Now()
	b, err := r.getMeta(ctx, ref)
	if err != nil || string(b) != string(obj) {
		t.Fatalf("getMeta with its first store stalled: %q, %v", b, err)
	}
	if d := time.Since(start); d < hedgeAfter || d > 20*hedgeAfter {
		t.Fatalf("getMeta with its first store stalled took %s (hedge after %s)", d, hedgeAfter)
	}
	start = time.Now()
	if b, err := r.getMeta(ctx, ref); err != nil || string(b) != string(obj) {
		t.Fatalf("second getMeta: %q, %v", b, err)
	}
	if d := time.Since(start); d >= hedgeAfter {
		t.Fatalf("second getMeta waited %s: the stalled store was not asked last", d)
	}
	if n := stalled.Fired(); n != 1 {
		t.Fatalf("the stalled store was asked %d times, want once", n)
	}
	if n := r.Stats().SlowReads; n != 1 {
		t.Fatalf("Stats().SlowReads = %d, want 1", n)
	}
}

// TestMetaPutGivesUpOnAHangingStore: a meta object copy whose put hangs is
// given up on once another copy is durable and StragglerWait has passed,
// and goes to the next store of the ring: the commit that writes it does
// not wait for the store's timeouts.
func TestMetaPutGivesUpOnAHangingStore(t *testing.T) {
	ctx := context.Background()
	stores, _ := localStores(t, 6)
	const name = "delta/snapshots/straggler.hdr"
	probe := openRepo(t, testConfig(t, stores, 4, 2))
	ring := probe.metaRing(name)
	probe.Close(ctx)
	hang := stall(stores[ring[1]].Backend, faulty.OpPut)
	stores[ring[1]].Backend = hang
	cfg := testConfig(t, stores, 4, 2)
	cfg.StragglerWait = 100 * time.Millisecond
	r := openRepo(t, cfg)
	defer r.Close(ctx)
	obj := []byte("a snapshot header")
	start := time.Now()
	ref, err := r.putMeta(ctx, name, backend.Bytes(obj), hashOf(obj))
	if err != nil {
		t.Fatalf("putMeta with a hanging store: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("putMeta took %s", d)
	}
	want := []uint16{ring[0], ring[2], ring[3]}
	slices.Sort(want)
	if !slices.Equal(ref.Stores, want) || hang.Fired() != 1 {
		t.Fatalf("copies on %v (want %v), %d puts to the hanging store", ref.Stores, want, hang.Fired())
	}
	if b, err := r.getMeta(ctx, ref); err != nil || string(b) != string(obj) {
		t.Fatalf("getMeta: %q, %v", b, err)
	}
	// The next object whose copies would go to the hanging store does
	// not wait for it: writes pass it over now.
	next := ""
	for i := 0; next == ""; i++ {
		n := fmt.Sprintf("delta/snapshots/next%d.hdr", i)
		if slices.Contains(r.metaRing(n)[:3], ring[1]) {
			next = n
		}
	}
	start = time.Now()
	ref, err = r.putMeta(ctx, next, backend.Bytes(obj), hashOf(obj))
	if err != nil || slices.Contains(ref.Stores, ring[1]) || len(ref.Stores) != 3 {
		t.Fatalf("next putMeta: copies on %v, %v", ref.Stores, err)
	}
	if d := time.Since(start); d >= cfg.StragglerWait || hang.Fired() != 1 {
		t.Fatalf("next putMeta took %s and started %d puts on the hanging store: it was not passed over",
			d, hang.Fired())
	}
}
