package erasure_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestWriteFailure fails the Put of shard n, for every n, and checks that
// WritePack fails naming that shard and store, and that no shard of the
// pack is left on any store. With Parallelism 1 the Puts run in shard
// order, so the failed Put is exactly the n-th; with the default all run at
// once and the others are cancelled or cleaned up.
func TestWriteFailure(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := buildPack(t, rng, []int{5000, 70_000, 300, 20_000})
	for _, par := range []int{1, 0} {
		for _, torn := range []bool{false, true} {
			for n := range 6 {
				t.Run(fmt.Sprintf("par%d/torn%v/shard%d", par, torn, n), func(t *testing.T) {
					stores, dirs := localStores(t, 6)
					plain, _ := erasure.New(stores, 4, 2, erasure.Options{})
					target := plain.Place(p.id)[n]
					fbs := make([]*faulty.Backend, len(stores))
					for i := range stores {
						var inj []*faulty.Injector
						if stores[i].ID == target {
							if torn {
								inj = append(inj, faulty.TornPut(0))
							} else {
								inj = append(inj, faulty.OnIndex(0, faulty.OpPut))
							}
						}
						fbs[i] = faulty.Wrap(stores[i].Backend, inj...)
						stores[i].Backend = fbs[i]
					}
					c, err := erasure.New(stores, 4, 2, erasure.Options{Parallelism: par})
					if err != nil {
						t.Fatal(err)
					}
					pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
					if err == nil || pl != nil {
						t.Fatalf("WritePack: %v, %v; want an error", pl, err)
					}
					if !errors.Is(err, faulty.ErrInjected) {
						t.Fatalf("WritePack: %v, want the injected failure", err)
					}
					if want := fmt.Sprintf("shard %d on store %d", n, target); !strings.Contains(err.Error(), want) {
						t.Fatalf("WritePack error %q does not name %q", err, want)
					}
					if strings.Contains(err.Error(), filepath.Dir(dirs[0])) {
						t.Fatalf("WritePack error %q shows a path", err)
					}
					for i, fb := range fbs {
						fb.AssertAllFired(t)
						if got := countObjects(t, fb.Unwrap()); got != 0 {
							t.Fatalf("store %d: %d objects left behind", i, got)
						}
					}
				})
			}
		}
	}
}

// TestWriteCancelled: a write whose context ends fails and cleans up.
func TestWriteCancelled(t *testing.T) {
	stores, _ := localStores(t, 6)
	g := faulty.NewGate()
	stores[2].Backend = faulty.Wrap(stores[2].Backend, faulty.OnIndex(0, faulty.OpPut).WaitFor(g))
	c, _ := newCoder(t, stores, 4, 2)
	p := buildPack(t, rand.New(rand.NewPCG(13, 14)), []int{10_000, 3000})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-g.Reached(); cancel() }()
	if _, err := c.WritePack(ctx, testRepo, p.id, p.data); !errors.Is(err, context.Canceled) {
		t.Fatalf("WritePack: %v, want context.Canceled", err)
	}
	g.Release()
	for i, s := range stores {
		if got := countObjects(t, s.Backend); got != 0 {
			t.Fatalf("store %d: %d objects left behind", i, got)
		}
	}
}
