package repo

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// testKeys are the keys of every test repository.
var testKeys = func() keys.Keys {
	xof := blake3.New()
	xof.WriteString("holdfast repo test master")
	m, err := keys.NewMaster(xof.Digest(), chunker.DefaultParams)
	if err != nil {
		panic(err)
	}
	return m.Derive()
}()

// chunk is a sealed test chunk.
type chunk struct {
	id       format.ID
	envelope []byte
}

// makeChunks seals n deterministic chunks of varied sizes (up to maxSize).
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

// localStores returns n local directory stores and their directories.
func localStores(t testing.TB, n int) ([]erasure.Store, []string) {
	t.Helper()
	var stores []erasure.Store
	var dirs []string
	for i := 0; i < n; i++ {
		dir := filepath.Join(t.TempDir(), "store")
		b, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: b})
		dirs = append(dirs, dir)
	}
	return stores, dirs
}

// testConfig returns an engine configuration over stores.
func testConfig(t testing.TB, stores []erasure.Store, k, m int) Config {
	urls := make([]string, len(stores))
	for i := range stores {
		urls[i] = stores[i].Backend.String()
	}
	return Config{
		DataDir:    t.TempDir(),
		Layout:     NewLayout(urls, k, m),
		Stores:     stores,
		PackTarget: 256 << 10,
	}
}

func openRepo(t testing.TB, cfg Config) *Repo {
	t.Helper()
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// putAll stores chunks and flushes.
func putAll(t testing.TB, r *Repo, repoID uint32, chunks []chunk) {
	t.Helper()
	ctx := context.Background()
	for _, c := range chunks {
		if _, err := r.PutChunk(ctx, repoID, c.id, c.envelope); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx, repoID); err != nil {
		t.Fatal(err)
	}
}

// headerFor builds a signed snapshot header referencing chunks.
func headerFor(t testing.TB, chunks []chunk, host string) ([]byte, []format.ID) {
	t.Helper()
	ids := make([]format.ID, len(chunks))
	for i, c := range chunks {
		ids[i] = c.id
	}
	slices.SortFunc(ids, format.ID.Compare)
	ids = slices.Compact(ids)
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

// mustReadAll checks every chunk reads back bit-exact.
func mustReadAll(t testing.TB, r *Repo, repoID uint32, chunks []chunk) {
	t.Helper()
	for i, c := range chunks {
		got, err := r.ReadChunk(context.Background(), repoID, c.id)
		if err != nil {
			t.Fatalf("chunk %d (%s): %v", i, c.id.Short(), err)
		}
		if string(got) != string(c.envelope) {
			t.Fatalf("chunk %d (%s): wrong bytes", i, c.id.Short())
		}
	}
}

var _ backend.Backend = (*local.Backend)(nil)
