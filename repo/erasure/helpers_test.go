package erasure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

const testRepo = "test-repo"

// testPack is a pack built from deterministic random envelopes.
type testPack struct {
	id        format.ID
	data      []byte
	entries   []pack.Entry
	placement []uint16
}

func (p *testPack) len() int64 { return int64(len(p.data)) }

// record returns the envelope of entry e.
func (p *testPack) record(e pack.Entry) []byte { return p.data[e.Offset:e.End()] }

// buildPack builds a pack of random envelopes of the given sizes.
func buildPack(t testing.TB, rng *rand.Rand, sizes []int) *testPack {
	t.Helper()
	b := pack.NewBuilder()
	for _, n := range sizes {
		var id format.ID
		for i := range id {
			id[i] = byte(rng.Uint32())
		}
		env := make([]byte, n)
		for i := range env {
			env[i] = byte(rng.Uint32())
		}
		if err := b.Add(id, env); err != nil {
			t.Fatal(err)
		}
	}
	data, id, entries, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return &testPack{id: id, data: bytes.Clone(data), entries: entries}
}

// variedPacks returns n packs of varied sizes: the first are smaller than
// k*64 bytes (one or two tiny records), the rest hold records from a byte
// to ~96 KiB, so that many straddle shard boundaries.
func variedPacks(t testing.TB, rng *rand.Rand, n int) []*testPack {
	t.Helper()
	var packs []*testPack
	for i := range n {
		var sizes []int
		switch i {
		case 0:
			sizes = []int{1}
		case 1:
			sizes = []int{40}
		case 2:
			sizes = []int{3, 5}
		case 3:
			sizes = []int{100_000, 1, 70_000}
		default:
			for range 1 + rng.IntN(24) {
				// Log-uniform from 1 byte to ~96 KiB.
				sizes = append(sizes, 1+int(rng.ExpFloat64()*2000)%(96<<10))
			}
		}
		packs = append(packs, buildPack(t, rng, sizes))
	}
	return packs
}

// localStores makes n local stores in t.TempDir and returns them and their
// directories.
func localStores(t testing.TB, n int) ([]erasure.Store, []string) {
	t.Helper()
	root := t.TempDir()
	var stores []erasure.Store
	var dirs []string
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("store%d", i))
		b, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(10 + i), Backend: b})
		dirs = append(dirs, dir)
	}
	return stores, dirs
}

// damageLog collects reported damage.
type damageLog struct {
	mu   sync.Mutex
	list []erasure.Damage
}

func (d *damageLog) add(x erasure.Damage) {
	d.mu.Lock()
	d.list = append(d.list, x)
	d.mu.Unlock()
}

func (d *damageLog) take() []erasure.Damage {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.list
	d.list = nil
	return l
}

// logHandler collects log records.
type logHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	return nil
}
func (h *logHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logHandler) WithGroup(string) slog.Handler      { return h }

// count returns how many records at level have a message containing substr.
func (h *logHandler) count(level slog.Level, substr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level && strings.Contains(r.Message, substr) {
			n++
		}
	}
	return n
}

// newCoder returns a Coder whose damage reports go to the returned log.
func newCoder(t testing.TB, stores []erasure.Store, k, m int) (*erasure.Coder, *damageLog) {
	t.Helper()
	dl := &damageLog{}
	c, err := erasure.New(stores, k, m, erasure.Options{OnDamage: dl.add})
	if err != nil {
		t.Fatal(err)
	}
	return c, dl
}

// writePacks writes every pack and records its placement.
func writePacks(t testing.TB, c *erasure.Coder, packs []*testPack) {
	t.Helper()
	for _, p := range packs {
		pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
		if err != nil {
			t.Fatal(err)
		}
		p.placement = pl
	}
}

// readRecord reads one record through ReadRange with pack.VerifyRecord.
func readRecord(c *erasure.Coder, p *testPack, e pack.Entry) ([]byte, error) {
	return c.ReadRange(context.Background(), testRepo, p.id, p.len(), p.placement,
		int64(e.Offset), int64(e.Length), func(b []byte) error { return pack.VerifyRecord(e, b) })
}

// checkAllRecords reads every record of every pack and fails unless each
// is bit-exact.
func checkAllRecords(t testing.TB, c *erasure.Coder, packs []*testPack, what string) {
	t.Helper()
	for pi, p := range packs {
		for ei, e := range p.entries {
			got, err := readRecord(c, p, e)
			if err != nil {
				t.Fatalf("%s: pack %d record %d: %v", what, pi, ei, err)
			}
			if !bytes.Equal(got, p.record(e)) {
				t.Fatalf("%s: pack %d record %d: wrong bytes", what, pi, ei)
			}
		}
	}
}

// shardFile returns the path of shard i of p on a local store.
func shardFile(dirs []string, stores []erasure.Store, p *testPack, i int) string {
	for s, st := range stores {
		if st.ID == p.placement[i] {
			return filepath.Join(dirs[s], filepath.FromSlash(shard.ObjectName(testRepo, p.id, i)))
		}
	}
	panic("shard on unknown store")
}

// storeIndex returns the position in stores of the store with ID id.
func storeIndex(stores []erasure.Store, id uint16) int {
	for i, s := range stores {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// spansOf returns the data shard indexes that hold record e of p.
func spansOf(c *erasure.Coder, p *testPack, e pack.Entry) []shard.Span {
	return shard.Locate(int64(e.Offset), int64(e.Length), shard.ShardSize(p.len(), c.K()))
}

// countObjects counts the objects under the repository's pack prefix on b.
func countObjects(t testing.TB, b backend.Backend) int {
	t.Helper()
	n := 0
	if err := b.List(context.Background(), shard.Prefix(testRepo), func(backend.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// hide renames a store directory away (the store disappears); the returned
// func brings it back.
func hide(t testing.TB, dir string) func() {
	t.Helper()
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Rename(away, dir); err != nil {
			t.Fatal(err)
		}
	}
}

// wipe is hide with an empty directory left in dir's place: a replaced
// disk, whose shards are missing rather than on an unavailable store.
func wipe(t testing.TB, dir string) func() {
	t.Helper()
	restore := hide(t, dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		restore()
	}
}

func isUnrecoverable(err error) bool { return errors.Is(err, erasure.ErrUnrecoverable) }

func readRecordCtx(ctx context.Context, c *erasure.Coder, p *testPack, e pack.Entry) ([]byte, error) {
	return c.ReadRange(ctx, testRepo, p.id, p.len(), p.placement,
		int64(e.Offset), int64(e.Length), func(b []byte) error { return pack.VerifyRecord(e, b) })
}
