package gc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// crashSetup builds a repository whose GC deletes an empty pack, sweeps
// chunks and repacks a sparse pack, and returns the chunks of the
// snapshots that stay.
func crashSetup(t *testing.T) (*fixture, []chunk) {
	f := newFixture(t, 40<<10)
	a, b, c := makeChunks(t, "a", 12, 3<<10), makeChunks(t, "b", 12, 3<<10), makeChunks(t, "c", 12, 3<<10)
	f.put(a) // will be empty
	f.put(b) // will be sparse
	f.put(c) // stays full
	gone := f.commit(append(append([]chunk{}, a...), b...), "gone")
	keep := append(append([]chunk{}, b[:2]...), c...)
	f.commit(keep, "keep")
	f.forget(gone)
	return f, keep
}

// wrapStores puts a fault injector on store victim (n < 0: none).
func wrapStores(f *fixture, victim, n int) (*faulty.Backend, []erasure.Store) {
	healthy := f.stores
	wrapped := append([]erasure.Store(nil), healthy...)
	var inj []*faulty.Injector
	if n >= 0 {
		inj = append(inj, faulty.OnIndex(n, faulty.OpAll))
	}
	fb := faulty.Wrap(healthy[victim].Backend, inj...)
	wrapped[victim] = erasure.Store{ID: uint16(victim), Backend: fb}
	f.cfg.Stores = wrapped
	f.reopen()
	f.cfg.Stores = healthy
	return fb, healthy
}

// TestCrashDuringGC fails the n-th store operation of a GC with sweep,
// pack deletion and repack, for every n on every store, then reopens the
// engine on healthy stores and checks: nothing dangles (scrub healthy,
// every pack's shards present, live counts exact), every kept snapshot
// reads back bit-exact, and a new GC completes and leaves the repository
// in the same state a fault-free GC does.
func TestCrashDuringGC(t *testing.T) {
	ctx := context.Background()
	counts := make([]int, 3)
	for victim := range counts {
		f, _ := crashSetup(t)
		fb, _ := wrapStores(f, victim, -1)
		rep := f.gc(later())
		if rep.PacksDeleted == 0 || rep.PacksRepacked == 0 {
			t.Fatalf("setup does not exercise deletion and repack: %+v", rep)
		}
		counts[victim] = fb.Count()
	}
	t.Logf("store operations per GC: %v", counts)
	for victim, count := range counts {
		for n := 0; n < count; n++ {
			t.Run(fmt.Sprintf("store%d-op%d", victim, n), func(t *testing.T) {
				f, keep := crashSetup(t)
				fb, _ := wrapStores(f, victim, n)
				_, err := Run(ctx, f.r, f.repoID, later())
				if fb.Fired() == 0 {
					t.Fatalf("injector never fired (plan %s)", fb)
				}
				t.Logf("gc with fault: %v", err)
				f.reopen() // healthy stores, same index
				f.consistent()
				f.mustRead(keep)
				f.gc(later())
				f.consistent()
				f.mustRead(keep)
				if again := f.gc(later()); again.ChunksFreed != 0 || again.PacksDeleted != 0 || again.PacksRepacked != 0 || again.OrphanShards != 0 {
					t.Fatalf("a third GC still found work: %+v", again)
				}
			})
		}
	}
}

// dying is a store decorator for the process-death variant: all stores
// share one operation counter, and from operation n on every operation
// fails, as if the server died there (nothing after reaches any store).
type dying struct {
	backend.Backend
	ops *atomic.Int64
	n   int64
}

var errDead = errors.New("process died")

func (d dying) op() error {
	if d.ops.Add(1)-1 >= d.n {
		return errDead
	}
	return nil
}

func (d dying) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	if err := d.op(); err != nil {
		return err
	}
	return d.Backend.Put(ctx, name, p)
}

func (d dying) Get(ctx context.Context, name backend.Name, off, n int64) (io.ReadCloser, error) {
	if err := d.op(); err != nil {
		return nil, err
	}
	return d.Backend.Get(ctx, name, off, n)
}

func (d dying) Stat(ctx context.Context, name backend.Name) (backend.Info, error) {
	if err := d.op(); err != nil {
		return backend.Info{}, err
	}
	return d.Backend.Stat(ctx, name)
}

func (d dying) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	if err := d.op(); err != nil {
		return err
	}
	return d.Backend.List(ctx, prefix, fn)
}

func (d dying) Delete(ctx context.Context, name backend.Name) error {
	if err := d.op(); err != nil {
		return err
	}
	return d.Backend.Delete(ctx, name)
}

// TestDeathDuringGC: every store operation from the n-th on fails, for
// every n a GC reaches, then the checks of TestCrashDuringGC.
func TestDeathDuringGC(t *testing.T) {
	ctx := context.Background()
	total := int64(0)
	for n := int64(0); n == 0 || n < total; n++ {
		f, keep := crashSetup(t)
		ops := &atomic.Int64{}
		limit := n
		if total == 0 {
			limit = 1 << 40 // first pass: count
		}
		healthy := f.stores
		var wrapped []erasure.Store
		for _, s := range healthy {
			wrapped = append(wrapped, erasure.Store{ID: s.ID, Backend: dying{Backend: s.Backend, ops: ops, n: limit}})
		}
		f.cfg.Stores = wrapped
		f.reopen()
		f.cfg.Stores = healthy
		_, err := Run(ctx, f.r, f.repoID, later())
		if total == 0 {
			if err != nil {
				t.Fatal(err)
			}
			total = ops.Load()
			t.Logf("a GC makes %d store operations", total)
			continue
		}
		f.reopen()
		f.consistent()
		f.mustRead(keep)
		f.gc(later())
		f.consistent()
		f.mustRead(keep)
		if again := f.gc(later()); again.ChunksFreed != 0 || again.PacksDeleted != 0 || again.PacksRepacked != 0 || again.OrphanShards != 0 {
			t.Fatalf("death at op %d: a third GC still found work: %+v", n, again)
		}
	}
}
