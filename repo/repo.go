package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// DefaultPackTarget is the size at which an open pack is sealed and
// written: large enough that per-object costs (S3 requests, inodes, index
// entries per pack) stay small, small enough that a pack is buffered in
// memory cheaply.
const DefaultPackTarget = 32 << 20

// Config says how to open the engine.
type Config struct {
	// DataDir holds the index (DataDir/index) and relative local stores.
	DataDir string
	// Layout is the store list and shard layout (see LoadOrCreateLayout).
	Layout Layout
	// Stores overrides the backends opened from Layout.Stores' URLs (tests
	// use it for in-memory and fault-injecting stores). Its IDs must match
	// Layout's.
	Stores []erasure.Store
	// PackTarget is the size at which an open pack is written; 0 means
	// DefaultPackTarget.
	PackTarget int
	// Index configures Pebble.
	Index index.Options
	// Log receives warnings (damaged shards, orphans). Nil discards.
	Log *slog.Logger
	// OnDamage is told about every damaged shard met by reads and scrubs.
	OnDamage func(erasure.Damage)
	// HedgeAfter is how long a read waits for a store before it asks
	// another too (erasure.Options.HedgeAfter); 0 means the default.
	HedgeAfter time.Duration
	// StragglerWait is erasure.Options.StragglerWait, for pack shards and
	// meta object copies alike; 0 means the default.
	StragglerWait time.Duration
}

// Repo is the storage engine: an index, a set of stores and the erasure
// coder between them. It is safe for concurrent use.
type Repo struct {
	cfg    Config
	log    *slog.Logger
	idx    *index.Index
	coder  *erasure.Coder
	stores map[uint16]erasure.Store
	order  []uint16 // store IDs ascending, for meta-object placement

	counters counters

	// locks serialise lock changes and forgets of one snapshot (lock*.go,
	// snapLock), so a snapshot can never be deleted between a lock check
	// and a lock write. They are striped by snapshot ID: setting a lock
	// walks the whole snapshot, which may take minutes on S3, and must not
	// hold up forgets of other snapshots meanwhile.
	locks [64]sync.Mutex
	// flagsMu orders read-modify-writes of repository records (SetReplica).
	flagsMu sync.Mutex

	mu      sync.Mutex
	writers map[uint32]*packWriter
	// builders are reused pack buffers (writer.go).
	builders *builderPool
	names    map[uint32]string
	guards   map[uint32]*gcGuard // see guard.go
	// packLocks order everything that creates, indexes or deletes a pack
	// of a given ID (lockPacks, gc_packs.go).
	packLocks [64]sync.Mutex
	// repacks counts repack commits: a lock's retention pass repeats until
	// none happened during it (lock_retain.go).
	repacks atomic.Uint64
	closed  bool
}

// Open opens the engine. The index lives in DataDir/index; opening fails with
// a clear error if another process holds it.
func Open(ctx context.Context, cfg Config) (*Repo, error) {
	r, err := openAt(ctx, cfg, filepath.Join(cfg.DataDir, "index"))
	if err != nil {
		return nil, err
	}
	if err := r.checkMarkers(); err != nil {
		r.idx.Close()
		return nil, err
	}
	return r, nil
}

// openAt opens the engine with its index in indexDir.
func openAt(ctx context.Context, cfg Config, indexDir string) (*Repo, error) {
	if err := cfg.Layout.Validate(); err != nil {
		return nil, err
	}
	if cfg.PackTarget <= 0 {
		cfg.PackTarget = DefaultPackTarget
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stores, err := openStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r := &Repo{
		cfg: cfg, log: log,
		stores:  map[uint16]erasure.Store{},
		writers: map[uint32]*packWriter{},
		names:   map[uint32]string{},

		builders: newBuilderPool(builderIdle),
	}
	coder, err := erasure.New(stores, cfg.Layout.K, cfg.Layout.M, erasure.Options{Log: log, OnDamage: r.onDamage, OnRedirect: r.onRedirect, OnSlowRead: r.onSlowRead, HedgeAfter: cfg.HedgeAfter, StragglerWait: cfg.StragglerWait})
	if err != nil {
		return nil, err
	}
	idxOpts := cfg.Index
	if idxOpts.Logger == nil {
		idxOpts.Logger = log
	}
	idx, err := index.Open(indexDir, idxOpts)
	if err != nil {
		return nil, err
	}
	r.idx, r.coder = idx, coder
	for _, s := range stores {
		r.stores[s.ID] = s
		r.order = append(r.order, s.ID)
	}
	slices.Sort(r.order)
	if err := r.recordMeta(); err != nil {
		idx.Close()
		return nil, err
	}
	return r, nil
}

func openStores(ctx context.Context, cfg Config) ([]erasure.Store, error) {
	if cfg.Stores != nil {
		return cfg.Stores, nil
	}
	var stores []erasure.Store
	for _, s := range cfg.Layout.Stores {
		b, err := OpenStore(ctx, cfg.DataDir, s.URL)
		if err != nil {
			return nil, fmt.Errorf("store %d: %w", s.ID, err)
		}
		stores = append(stores, erasure.Store{ID: s.ID, Backend: b})
	}
	return stores, nil
}

// recordMeta writes the layout into the index's Meta record on first open
// and checks it on later ones.
func (r *Repo) recordMeta() error {
	want := indexkey.Meta{IndexVersion: 1, K: r.cfg.Layout.K, M: r.cfg.Layout.M}
	for _, s := range r.cfg.Layout.Stores {
		want.Stores = append(want.Stores, indexkey.Store{ID: s.ID, URL: s.URL})
	}
	have, err := r.idx.GetMeta()
	if errors.Is(err, index.ErrNotFound) {
		b := r.idx.NewBatch()
		defer b.Close()
		b.PutMeta(want)
		return b.Commit(true)
	}
	if err != nil {
		return err
	}
	if have.K != want.K || have.M != want.M || len(have.Stores) != len(want.Stores) {
		return fmt.Errorf("index was built for %d+%d shards over %d stores, layout says %s", have.K, have.M, len(have.Stores), r.cfg.Layout)
	}
	return nil
}

// Index returns the engine's index, for the server's sessions, tokens and
// locks, which live beside the chunk data.
func (r *Repo) Index() *index.Index { return r.idx }

// Layout returns the layout the engine runs with.
func (r *Repo) Layout() Layout { return r.cfg.Layout }

// Close flushes every open pack and closes the index. Chunks that could not
// be flushed are reported; their uploads were never committed.
func (r *Repo) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	writers := r.writers
	r.mu.Unlock()
	var errs []error
	for _, w := range writers {
		if err := w.flush(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	r.builders.stop()
	errs = append(errs, r.idx.Close())
	return errors.Join(errs...)
}

// repoName returns the name of repository id (for object names).
func (r *Repo) repoName(id uint32) (string, error) {
	r.mu.Lock()
	name, ok := r.names[id]
	r.mu.Unlock()
	if ok {
		return name, nil
	}
	name, err := r.idx.RepoName(id)
	if errors.Is(err, index.ErrNotFound) {
		return "", fmt.Errorf("repository %d: %w", id, ErrNoRepository)
	}
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.names[id] = name
	r.mu.Unlock()
	return name, nil
}
