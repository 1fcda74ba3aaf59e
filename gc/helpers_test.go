package gc

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

var testKeys = func() keys.Keys {
	xof := blake3.New()
	xof.WriteString("holdfast gc test master")
	m, err := keys.NewMaster(xof.Digest(), chunker.DefaultParams)
	if err != nil {
		panic(err)
	}
	return m.Derive()
}()

type chunk struct {
	id       format.ID
	envelope []byte
}

// makeChunks seals n deterministic chunks of 1..maxSize bytes.
func makeChunks(t testing.TB, seed string, n, maxSize int) []chunk {
	t.Helper()
	s := seal.NewSealer(testKeys)
	out := make([]chunk, n)
	for i := range out {
		xof := blake3.New()
		xof.WriteString(seed)
		binary.Write(xof, binary.BigEndian, uint64(i))
		size := 1 + int(binary.BigEndian.Uint32(xof.Sum(nil)))%maxSize
		plain := make([]byte, size)
		xof.Digest().Read(plain)
		id := s.ID(plain)
		env, err := s.Seal(nil, seal.TypeData, id, plain, make([]byte, seal.NonceSize))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = chunk{id: id, envelope: env}
	}
	return out
}

// fixture is an engine over in-memory stores with one repository.
type fixture struct {
	t      testing.TB
	r      *repo.Repo
	cfg    repo.Config
	stores []erasure.Store
	repoID uint32
}

const testRepo = "gctest"

func newFixture(t testing.TB, packTarget int) *fixture {
	t.Helper()
	var stores []erasure.Store
	var urls []string
	for i := 0; i < 3; i++ {
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: mem.New()})
		urls = append(urls, "mem")
	}
	cfg := repo.Config{DataDir: t.TempDir(), Layout: repo.NewLayout(urls, 2, 1), Stores: stores, PackTarget: packTarget}
	f := &fixture{t: t, cfg: cfg, stores: stores}
	f.open()
	id, err := f.r.CreateRepository(context.Background(), testRepo)
	if err != nil {
		t.Fatal(err)
	}
	f.repoID = id
	t.Cleanup(func() { f.r.Close(context.Background()) })
	return f
}

func (f *fixture) open() {
	r, err := repo.Open(context.Background(), f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.r = r
}

// reopen closes and reopens the engine on the same index and stores.
func (f *fixture) reopen() {
	f.r.Close(context.Background())
	f.open()
}

// put stores chunks and flushes them into packs.
func (f *fixture) put(chunks []chunk) {
	f.t.Helper()
	ctx := context.Background()
	for _, c := range chunks {
		if _, err := f.r.PutChunk(ctx, f.repoID, c.id, c.envelope); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.r.Flush(ctx, f.repoID); err != nil {
		f.t.Fatal(err)
	}
}

// header builds a signed snapshot header over chunks.
func header(t testing.TB, chunks []chunk, host string) ([]byte, []format.ID) {
	t.Helper()
	ids := idsOf(chunks)
	sum, err := snapshot.RefsHash(ids)
	if err != nil {
		t.Fatal(err)
	}
	h := &snapshot.Header{
		Time:     time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC).UnixNano(),
		Host:     host,
		Source:   snapshot.Source{Kind: "path", Name: "/data"},
		Root:     []tree.Extent{{ID: ids[0], Length: 1}},
		RefCount: uint64(len(ids)),
		RefsHash: sum,
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	h.Sign(testKeys.MAC)
	return h.Encode(), ids
}

func idsOf(chunks []chunk) []format.ID {
	ids := make([]format.ID, len(chunks))
	for i, c := range chunks {
		ids[i] = c.id
	}
	slices.SortFunc(ids, format.ID.Compare)
	return slices.Compact(ids)
}

// commit commits a snapshot over chunks (which must be stored).
func (f *fixture) commit(chunks []chunk, host string) format.ID {
	f.t.Helper()
	id, err := f.tryCommit(chunks, host)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) tryCommit(chunks []chunk, host string) (format.ID, error) {
	h, ids := header(f.t, chunks, host)
	return f.r.CommitSnapshot(context.Background(), f.repoID, h, repo.RefsFromSlice(ids))
}

func (f *fixture) forget(id format.ID) {
	f.t.Helper()
	if err := f.r.DeleteSnapshot(context.Background(), f.repoID, id); err != nil {
		f.t.Fatal(err)
	}
}

// opts returns GC options whose clock runs 2 h ahead, so every pack
// written by the test is past the grace period.
func later() Options {
	return Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
}

func (f *fixture) gc(o Options) Report {
	f.t.Helper()
	rep, err := Run(context.Background(), f.r, f.repoID, o)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// mustRead checks that every chunk reads back bit-exact.
func (f *fixture) mustRead(chunks []chunk) {
	f.t.Helper()
	for i, c := range chunks {
		got, err := f.r.ReadChunk(context.Background(), f.repoID, c.id)
		if err != nil {
			f.t.Fatalf("chunk %d (%s): %v", i, c.id.Short(), err)
		}
		if string(got) != string(c.envelope) {
			f.t.Fatalf("chunk %d (%s): wrong bytes", i, c.id.Short())
		}
	}
}

// indexed reports which of chunks the index holds.
func (f *fixture) indexed(chunks []chunk) (in, out int) {
	f.t.Helper()
	for _, c := range chunks {
		_, err := f.r.Index().GetChunk(f.repoID, c.id)
		if err == nil {
			in++
		} else {
			out++
		}
	}
	return in, out
}

// packCount counts pack records.
func (f *fixture) packCount() int {
	n := 0
	if err := f.r.Index().Packs(f.repoID, func(format.ID, indexkey.PackRecord) error { n++; return nil }); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// shardObjects counts shard objects on every store.
func (f *fixture) shardObjects() int {
	n := 0
	for _, s := range f.stores {
		err := s.Backend.List(context.Background(), testRepo+"/packs/", func(backend.Info) error { n++; return nil })
		if err != nil {
			f.t.Fatal(err)
		}
	}
	return n
}

// consistent checks the invariants GC must keep: every chunk entry points
// at an indexed pack whose every shard exists, each pack's live counts
// match its entries, and every snapshot's references are indexed.
func (f *fixture) consistent() {
	f.t.Helper()
	ctx := context.Background()
	type cnt struct{ n, b uint64 }
	per := map[format.ID]cnt{}
	err := f.r.Index().Chunks(f.repoID, func(id format.ID, loc indexkey.ChunkLoc) error {
		c := per[loc.Pack]
		c.n++
		c.b += uint64(loc.Length)
		per[loc.Pack] = c
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	packs := map[format.ID]indexkey.PackRecord{}
	f.r.Index().Packs(f.repoID, func(id format.ID, p indexkey.PackRecord) error { packs[id] = p; return nil })
	for id, c := range per {
		p, ok := packs[id]
		if !ok {
			f.t.Fatalf("chunk entries point at pack %s, which the index does not have", id.Short())
		}
		if p.LiveCount != c.n || p.LiveBytes != c.b {
			f.t.Errorf("pack %s: live %d/%d bytes recorded, %d/%d counted", id.Short(), p.LiveCount, p.LiveBytes, c.n, c.b)
		}
	}
	rep, err := f.r.Scrub(ctx, false)
	if err != nil {
		f.t.Fatal(err)
	}
	if !rep.Healthy() || rep.ShardsMissing > 0 || rep.ShardsCorrupt > 0 {
		f.t.Fatalf("scrub: %+v", rep)
	}
	err = f.r.Snapshots(ctx, f.repoID, func(s repo.Snapshot) error {
		return f.r.ReadRefs(ctx, s, func(id format.ID) error {
			if _, err := f.r.Index().GetChunk(f.repoID, id); err != nil {
				f.t.Fatalf("snapshot %s references chunk %s: %v", s.ID.Short(), id.Short(), err)
			}
			return nil
		})
	})
	if err != nil {
		f.t.Fatal(err)
	}
}
