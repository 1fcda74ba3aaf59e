package erasure_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestReadsGoAroundAnUnreachableStore: once a read found a store
// unavailable, later reads rebuild its shards from the others without
// asking it (and without reporting the damage again) until UnreachableFor
// has passed; then a read asks it again. Every read is bit-exact.
func TestReadsGoAroundAnUnreachableStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(51, 52)), 4)
	writePacks(t, c0, packs)

	fb := faulty.Wrap(stores[1].Backend, faulty.Always(faulty.OpGet).Err(backend.ErrUnavailable))
	stores[1].Backend = fb
	c, dl := newCoder(t, stores, 4, 2)
	now := time.Unix(1_800_000_000, 0)
	erasure.SetClock(c, func() time.Time { return now })

	checkAllRecords(t, c, packs, "the first reads")
	asked := fb.Fired()
	if asked == 0 {
		t.Fatal("no read asked the unavailable store: the test reads nothing there")
	}
	reported := len(dl.take())
	checkAllRecords(t, c, packs, "reads while the store is read around")
	if fb.Fired() != asked {
		t.Fatalf("reads asked the unreachable store %d more times", fb.Fired()-asked)
	}
	if n := len(dl.take()); n != 0 {
		t.Fatalf("reads around the store reported %d damaged shards again (the first reads: %d)", n, reported)
	}
	now = now.Add(erasure.UnreachableFor)
	checkAllRecords(t, c, packs, "reads after UnreachableFor")
	if fb.Fired() == asked {
		t.Fatal("after UnreachableFor no read asked the store again")
	}
}

// probedStore fails every read as unavailable while down, and its
// availability check waits for an answer on release.
type probedStore struct {
	backend.Backend
	down    atomic.Bool
	gets    atomic.Int32
	probes  atomic.Int32
	release chan error
}

func (s *probedStore) Get(ctx context.Context, name backend.Name, off, length int64) (io.ReadCloser, error) {
	s.gets.Add(1)
	if s.down.Load() {
		return nil, fmt.Errorf("store down: %w", backend.ErrUnavailable)
	}
	return s.Backend.Get(ctx, name, off, length)
}

func (s *probedStore) Available() error {
	s.probes.Add(1)
	return <-s.release
}

// TestProbeDoesNotHoldReads: once UnreachableFor has passed, the store's
// availability check runs on its own; reads go on around the store
// meanwhile instead of waiting for it (a silent S3 endpoint's check takes
// its timeout), and ask the store again once the check succeeds.
func TestProbeDoesNotHoldReads(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(53, 54)), 3)
	writePacks(t, c0, packs)
	ps := &probedStore{Backend: stores[3].Backend, release: make(chan error)}
	ps.down.Store(true)
	stores[3].Backend = ps
	c, _ := newCoder(t, stores, 4, 2)
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	erasure.SetClock(c, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })

	checkAllRecords(t, c, packs, "the first reads")
	asked := ps.gets.Load()
	if asked == 0 {
		t.Fatal("no read asked the store: the test reads nothing there")
	}
	mu.Lock()
	now = now.Add(erasure.UnreachableFor)
	mu.Unlock()
	start := time.Now()
	checkAllRecords(t, c, packs, "reads while the probe hangs")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("reads while the probe hangs took %s", d)
	}
	if ps.probes.Load() != 1 || ps.gets.Load() != asked {
		t.Fatalf("%d probes and %d more reads of the store while probing; want 1 and 0", ps.probes.Load(), ps.gets.Load()-asked)
	}
	ps.down.Store(false)
	ps.release <- nil // the store answers again
	deadline := time.Now().Add(5 * time.Second)
	for ps.gets.Load() == asked {
		if time.Now().After(deadline) {
			t.Fatal("reads never asked the store again after its probe succeeded")
		}
		checkAllRecords(t, c, packs, "reads after the probe")
		time.Sleep(10 * time.Millisecond)
	}
}
