package erasure

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/reedsolomon"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Store is one failure domain: a backend and the ID that pack records
// (indexkey.PackRecord.Stores) use for it. IDs are fixed for the life of a
// repository; the order of stores given to New only affects placement of
// new packs.
type Store struct {
	ID      uint16
	Backend backend.Backend
}

// Options adjusts a Coder. The zero value is fine.
type Options struct {
	// Log receives warnings: damaged shards, shards left behind by a failed
	// write, a store layout that cannot keep shards apart. Nil discards.
	Log *slog.Logger

	// OnDamage, if set, is called once per damaged shard each time a read
	// or scrub meets it (see Damage). It may be called from several
	// goroutines at once and must not block for long.
	OnDamage func(Damage)

	// OnRedirect, if set, is called once for every shard a pack write puts
	// on another store than Place chose (see Redirect). It may be called
	// from several goroutines at once and must not block for long.
	OnRedirect func(Redirect)

	// OnSlowRead, if set, is called with the store's ID each time a read
	// got its bytes elsewhere because the store had not answered within
	// the hedge delay (see HedgeAfter and Coder.SlowRead). It may be
	// called from several goroutines at once and must not block.
	OnSlowRead func(store uint16)

	// StragglerWait is the least time a shard put may run on once k
	// shards of its pack are durable before the write puts the shard on
	// another store; 0 means DefaultStragglerWait.
	StragglerWait time.Duration

	// HedgeAfter is how long a range read waits for a data shard before it
	// also rebuilds that piece from k other shards and takes whichever
	// comes first; 0 means DefaultHedgeAfter, a negative value never
	// hedges.
	HedgeAfter time.Duration

	// Parallelism bounds the store operations one call runs at once.
	// Zero means k+m: every shard of a pack at once.
	Parallelism int
}

// Coder places the shards of packs on a set of stores, writes them, and
// reads, verifies and repairs them. It is safe for concurrent use.
type Coder struct {
	k, m     int
	stores   []Store
	byID     map[uint16]backend.Backend
	log      *slog.Logger
	onDamage func(Damage)
	onRedir  func(Redirect)
	onSlow   func(uint16)
	health   *health
	reach    *reachability
	par      int
	// stragglerWait: see Options.StragglerWait.
	stragglerWait time.Duration
	// hedgeAfter: see Options.HedgeAfter.
	hedgeAfter time.Duration
	enc        reedsolomon.Encoder
}

// New returns a Coder that codes packs into k data and m parity shards
// placed on stores. It needs 1 <= k, 0 <= m, k+m <= shard.MaxShards, at
// least one store and unique store IDs. With fewer stores than k+m some
// stores hold several shards of each pack; New logs a warning once, since a
// single store failure then costs more than one shard.
func New(stores []Store, k, m int, opts Options) (*Coder, error) {
	if k < 1 || m < 0 || k+m > shard.MaxShards {
		return nil, fmt.Errorf("%w: %d+%d shards (need 1 <= k, 0 <= m, k+m <= %d)", ErrConfig, k, m, shard.MaxShards)
	}
	if len(stores) == 0 {
		return nil, fmt.Errorf("%w: no stores", ErrConfig)
	}
	if opts.Parallelism < 0 {
		return nil, fmt.Errorf("%w: parallelism %d", ErrConfig, opts.Parallelism)
	}
	c := &Coder{
		k:        k,
		m:        m,
		stores:   append([]Store(nil), stores...),
		byID:     make(map[uint16]backend.Backend, len(stores)),
		log:      opts.Log,
		onDamage: opts.OnDamage,
		onRedir:  opts.OnRedirect,
		onSlow:   opts.OnSlowRead,
		health:   newHealth(),
		reach:    newReachability(),
		par:      opts.Parallelism,

		stragglerWait: cmp.Or(opts.StragglerWait, DefaultStragglerWait),
		hedgeAfter:    cmp.Or(opts.HedgeAfter, DefaultHedgeAfter),
	}
	for _, s := range stores {
		if s.Backend == nil {
			return nil, fmt.Errorf("%w: store %d has no backend", ErrConfig, s.ID)
		}
		if _, dup := c.byID[s.ID]; dup {
			return nil, fmt.Errorf("%w: store ID %d given twice", ErrConfig, s.ID)
		}
		c.byID[s.ID] = s.Backend
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.par == 0 {
		c.par = k + m
	}
	// Default options: the same systematic Vandermonde code as package
	// shard (SPEC.md §9.2), which ReadRange needs to rebuild sub-ranges.
	enc, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, fmt.Errorf("%w: %d+%d shards: %w", ErrConfig, k, m, err)
	}
	c.enc = enc
	if n := len(stores); n < k+m {
		perStore := (k + m + n - 1) / n
		if perStore > m {
			c.log.Warn(fmt.Sprintf("erasure: %d stores for k+m=%d shards: a store failure can lose more than m shards", n, k+m),
				"stores", n, "k", k, "m", m, "shards_per_store", perStore)
		} else {
			c.log.Warn(fmt.Sprintf("erasure: %d stores for k+m=%d shards: a store holds up to %d shards of a pack, so fewer store failures are survivable", n, k+m, perStore),
				"stores", n, "k", k, "m", m, "shards_per_store", perStore)
		}
	}
	return c, nil
}

// K returns the number of data shards per pack.
func (c *Coder) K() int { return c.k }

// M returns the number of parity shards per pack.
func (c *Coder) M() int { return c.m }

// Place returns the store ID for each shard index 0..k+m-1 of a pack.
//
// The stores, in the order given to New, form a ring; shard i goes to ring
// position (start+i) mod n, so the shards of a pack land on distinct stores
// whenever there are at least k+m of them. The start is the pack ID's first
// 8 bytes (big-endian) mod n. Pack IDs are BLAKE3 outputs, so starts are
// uniform and stores fill evenly; and a pack always maps to the same stores,
// with no state shared between calls or servers: a retried write lands
// on the stores of the first attempt instead of scattering orphans.
//
// Place is where a pack's shards go when every store takes writes; a write
// may put some elsewhere (WritePack), and the index records where they went.
func (c *Coder) Place(packID format.ID) []uint16 {
	n := len(c.stores)
	start := c.ringStart(packID)
	out := make([]uint16, c.k+c.m)
	for i := range out {
		out[i] = c.stores[(start+i)%n].ID
	}
	return out
}

// ringStart is the ring position of the store of a pack's shard 0.
func (c *Coder) ringStart(packID format.ID) int {
	return int(binary.BigEndian.Uint64(packID[:8]) % uint64(len(c.stores)))
}

// checkPlacement checks that placement fits this Coder.
func (c *Coder) checkPlacement(placement []uint16) error {
	if len(placement) != c.k+c.m {
		return fmt.Errorf("%w: %d store IDs for %d+%d shards", ErrPlacement, len(placement), c.k, c.m)
	}
	return nil
}

// store returns the backend of a store ID, or an error wrapping
// ErrPlacement.
func (c *Coder) store(id uint16) (backend.Backend, error) {
	b, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: unknown store %d", ErrPlacement, id)
	}
	return b, nil
}

// forEach calls fn(i) for i in 0..n-1, at most c.par at a time, and waits
// for all of them.
func (c *Coder) forEach(ctx context.Context, n int, fn func(ctx context.Context, i int)) {
	if n == 1 {
		fn(ctx, 0)
		return
	}
	sem := make(chan struct{}, c.par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(ctx, i)
		}()
	}
	wg.Wait()
}

// gather calls fetch for candidates in order, in waves of as many as are
// still needed, until need of them succeeded or none are left. It returns
// how many succeeded, or the context's error once it is done.
func (c *Coder) gather(ctx context.Context, cands []int, need int, fetch func(ctx context.Context, i int) bool) (int, error) {
	got := 0
	for got < need && len(cands) > 0 {
		wave := cands[:min(need-got, len(cands))]
		cands = cands[len(wave):]
		var mu sync.Mutex
		c.forEach(ctx, len(wave), func(ctx context.Context, j int) {
			if fetch(ctx, wave[j]) {
				mu.Lock()
				got++
				mu.Unlock()
			}
		})
		if err := ctx.Err(); err != nil {
			return got, err
		}
	}
	return got, nil
}

// gatherFirst calls fetch for every candidate at once and returns as soon
// as need of them succeeded, after cancelling the others and waiting for
// them to return (so that nothing they write is still being written). It
// returns how many succeeded, or the context's error.
func (c *Coder) gatherFirst(ctx context.Context, cands []int, need int, fetch func(ctx context.Context, i int) bool) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got atomic.Int32
	var wg sync.WaitGroup
	for _, i := range cands {
		wg.Go(func() {
			if fetch(ctx, i) && int(got.Add(1)) == need {
				cancel()
			}
		})
	}
	wg.Wait()
	if n := int(got.Load()); n >= need {
		return n, nil
	}
	return int(got.Load()), context.Cause(ctx)
}

// order returns the shard indexes 0..k+m-1 for which keep is true, data
// shards first: reading data shards needs no decoding.
func (c *Coder) order(keep func(i int) bool) []int {
	out := make([]int, 0, c.k+c.m)
	for i := range c.k + c.m {
		if keep(i) {
			out = append(out, i)
		}
	}
	return out
}
