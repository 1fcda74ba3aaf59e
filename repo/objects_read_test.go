package repo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// stallingStore never answers a Get once stall is set: it waits for the
// caller's context, as an S3 endpoint behind a partition that drops
// packets would.
type stallingStore struct {
	backend.Backend
	stall atomic.Bool
	gets  atomic.Int32
}

func (s *stallingStore) Get(ctx context.Context, name backend.Name, off, length int64) (io.ReadCloser, error) {
	s.gets.Add(1)
	if s.stall.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Backend.Get(ctx, name, off, length)
}

// TestMetaReadsHedgeAroundAStalledStore: a meta object (a snapshot's
// header or references) whose first copy sits on a store that stopped
// answering is read from the next copy once HedgeAfter has passed, and
// later reads ask that store last, without waiting for it.
func TestMetaReadsHedgeAroundAStalledStore(t *testing.T) {
	ctx := context.Background()
	stores, _ := localStores(t, 6)
	wrapped := make([]*stallingStore, len(stores))
	for i := range stores {
		wrapped[i] = &stallingStore{Backend: stores[i].Backend}
		stores[i].Backend = wrapped[i]
	}
	cfg := testConfig(t, stores, 4, 2)
	const hedgeAfter = 100 * time.Millisecond
	cfg.HedgeAfter = hedgeAfter
	r := openRepo(t, cfg)
	defer r.Close(ctx)
	obj := []byte("a snapshot header")
	ref, err := r.putMeta(ctx, "delta/snapshots/hedge.hdr", backend.Bytes(obj), hashOf(obj))
	if err != nil {
		t.Fatal(err)
	}
	first := r.metaCandidates(ref)[0]
	stalled := wrapped[first]
	stalled.stall.Store(true)

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
	if n := stalled.gets.Load(); n != 1 {
		t.Fatalf("the stalled store was asked %d times, want once", n)
	}
}

// hangingPuts is a store whose puts never end until their context does.
type hangingPuts struct {
	backend.Backend
	started atomic.Int32
}

func (h *hangingPuts) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	h.started.Add(1)
	<-ctx.Done()
	return ctx.Err()
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
	hang := &hangingPuts{Backend: stores[ring[1]].Backend}
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
	if !slices.Equal(ref.Stores, want) || hang.started.Load() != 1 {
		t.Fatalf("copies on %v (want %v), %d puts to the hanging store", ref.Stores, want, hang.started.Load())
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
	if d := time.Since(start); d >= cfg.StragglerWait || hang.started.Load() != 1 {
		t.Fatalf("next putMeta took %s and started %d puts on the hanging store: it was not passed over",
			d, hang.started.Load())
	}
}
