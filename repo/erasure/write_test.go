package erasure_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestWriteRedirectsAFailedShard fails the Put of shard n, for every n,
// once (or tears it), and checks that WritePack puts that shard on another
// store instead: the placement it returns differs from Place at n only, no
// store holds more than m shards, every record reads back bit-exact from
// that placement with the failed store gone, and OnRedirect heard of it.
// With Parallelism 1 the Puts run in shard order, so the failed Put is
// exactly the n-th.
func TestWriteRedirectsAFailedShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := buildPack(t, rng, []int{5000, 70_000, 300, 20_000})
	for _, par := range []int{1, 0} {
		for _, torn := range []bool{false, true} {
			for n := range 6 {
				t.Run(fmt.Sprintf("par%d/torn%v/shard%d", par, torn, n), func(t *testing.T) {
					stores, dirs := localStores(t, 6)
					plain, _ := erasure.New(stores, 4, 2, erasure.Options{})
					home := plain.Place(p.id)
					target := home[n]
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
					var redirects []erasure.Redirect
					var mu sync.Mutex
					c, err := erasure.New(stores, 4, 2, erasure.Options{Parallelism: par,
						OnRedirect: func(r erasure.Redirect) { mu.Lock(); redirects = append(redirects, r); mu.Unlock() }})
					if err != nil {
						t.Fatal(err)
					}
					pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
					if err != nil {
						t.Fatalf("WritePack with one failed put: %v", err)
					}
					for i := range pl {
						if (i == n) == (pl[i] == home[i]) {
							t.Fatalf("placement %v, Place %v: want a change at shard %d only", pl, home, n)
						}
					}
					if perStore := countPerStore(pl); perStore[pl[n]] != 2 {
						t.Fatalf("placement %v: shard %d went to store %d, which holds %d shards; want 2", pl, n, pl[n], perStore[pl[n]])
					}
					if len(redirects) != 1 || redirects[0] != (erasure.Redirect{Repo: testRepo, Pack: p.id, Shard: n, From: target, To: pl[n]}) {
						t.Fatalf("redirects %+v, want shard %d from %d to %d", redirects, n, target, pl[n])
					}
					for _, fb := range fbs {
						fb.AssertAllFired(t)
					}
					// The failed store is gone: every record must come
					// from the placement WritePack returned.
					if err := os.RemoveAll(dirs[storeIndex(stores, target)]); err != nil {
						t.Fatal(err)
					}
					p := *p
					p.placement = pl
					checkAllRecords(t, c, []*testPack{&p}, "after a redirected write")
				})
			}
		}
	}
}

// TestWriteFailsWithTooFewStores: with 4+2 shards over six stores, puts
// keep going while two shards per store fit on the stores left (three of
// them), and fail, naming the shard and store and leaving nothing behind,
// once they do not.
func TestWriteFailsWithTooFewStores(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	p := buildPack(t, rng, []int{9000, 40_000, 1200})
	for broken := 1; broken <= 4; broken++ {
		t.Run(fmt.Sprintf("%d-broken", broken), func(t *testing.T) {
			stores, _ := localStores(t, 6)
			for i := range broken {
				stores[i].Backend = faulty.Wrap(stores[i].Backend, faulty.Always(faulty.OpPut).ENOSPC())
			}
			c, _ := newCoder(t, stores, 4, 2)
			pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
			if broken <= 3 {
				if err != nil {
					t.Fatalf("WritePack with %d of 6 stores refusing puts: %v", broken, err)
				}
				for s, n := range countPerStore(pl) {
					if storeIndex(stores, s) < broken || n > 2 {
						t.Fatalf("placement %v puts %d shards on store %d", pl, n, s)
					}
				}
				q := *p
				q.placement = pl
				checkAllRecords(t, c, []*testPack{&q}, "after writing around broken stores")
				return
			}
			if err == nil || pl != nil {
				t.Fatalf("WritePack with %d of 6 stores refusing puts: %v, %v; want an error", broken, pl, err)
			}
			if !errors.Is(err, backend.ErrFull) || !strings.Contains(err.Error(), "no other store can take it") {
				t.Fatalf("WritePack: %v; want a full store and no other store to take the shard", err)
			}
			for i, s := range stores {
				if got := countObjects(t, s.Backend); got != 0 {
					t.Fatalf("store %d: %d objects left behind", i, got)
				}
			}
		})
	}
}

// TestWritePassesOverAFailedStore: after a put to a store failed, the next
// packs' shards for it go elsewhere without trying it, until
// StoreRetryAfter has passed; then a write tries it again and, once it
// takes the shard, packs are placed as Place says again.
func TestWritePassesOverAFailedStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	stores, _ := localStores(t, 6)
	fb := faulty.Wrap(stores[2].Backend, faulty.OnIndex(0, faulty.OpPut))
	stores[2].Backend = fb
	c, _ := newCoder(t, stores, 4, 2)
	now := time.Unix(1_800_000_000, 0)
	erasure.SetClock(c, func() time.Time { return now })
	write := func() []uint16 {
		t.Helper()
		p := buildPack(t, rng, []int{3000, 5000})
		pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	write() // fails over store 2 once
	if fb.Fired() != 1 {
		t.Fatalf("the injected failure fired %d times", fb.Fired())
	}
	for range 5 {
		if pl := write(); countPerStore(pl)[stores[2].ID] != 0 {
			t.Fatalf("placement %v uses store %d within StoreRetryAfter of its failure", pl, stores[2].ID)
		}
	}
	now = now.Add(erasure.StoreRetryAfter)
	pl := write()
	if n := countPerStore(pl)[stores[2].ID]; n != 1 {
		t.Fatalf("placement %v after StoreRetryAfter: %d shards on store %d, want 1", pl, n, stores[2].ID)
	}
	for _, n := range countPerStore(pl) {
		if n != 1 {
			t.Fatalf("placement %v: not one shard per store once every store takes writes", pl)
		}
	}
}

// countPerStore counts the shards placement puts on each store.
func countPerStore(placement []uint16) map[uint16]int {
	n := map[uint16]int{}
	for _, s := range placement {
		n[s]++
	}
	return n
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

// TestWriteGivesUpOnAHangingStore: a shard put that does not end goes to
// another store once the pack's other shards are durable and
// StragglerWait has passed, and later packs pass the store over.
func TestWriteGivesUpOnAHangingStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	// Its puts never finish: they wait for their context (a gate never
	// released), like a store behind a partition that drops packets.
	hang := faulty.Wrap(stores[4].Backend, faulty.Always(faulty.OpPut).WaitFor(faulty.NewGate()))
	stores[4].Backend = hang
	var redirects atomic.Int32
	c, err := erasure.New(stores, 4, 2, erasure.Options{StragglerWait: 100 * time.Millisecond,
		OnRedirect: func(erasure.Redirect) { redirects.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(41, 42))
	for n := range 3 {
		p := buildPack(t, rng, []int{20_000, 3000})
		start := time.Now()
		pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
		if err != nil {
			t.Fatalf("pack %d with a hanging store: %v", n, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("pack %d took %s", n, d)
		}
		if countPerStore(pl)[stores[4].ID] != 0 {
			t.Fatalf("pack %d: placement %v uses the hanging store", n, pl)
		}
		q := *p
		q.placement = pl
		checkAllRecords(t, c, []*testPack{&q}, "after a hanging store")
	}
	if got := hang.Fired(); got != 1 {
		t.Fatalf("%d puts went to the hanging store; want 1 (then it is passed over)", got)
	}
	if redirects.Load() != 3 {
		t.Fatalf("%d shards redirected, want 3", redirects.Load())
	}
}
