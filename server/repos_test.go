package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
	"github.com/holdfast-backup/holdfast/repo"
)

func TestCreateAndListRepos(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	c := f.as("server")

	resp, err := c.repo.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: "gamma-1"}))
	authWant(t, "create gamma-1", err, 0)
	if resp.Msg.Name != "gamma-1" {
		t.Fatalf("created %q", resp.Msg.Name)
	}
	list, err := c.repo.ListRepos(ctx, connect.NewRequest(&holdfastv1.ListReposRequest{}))
	authWant(t, "list", err, 0)
	if want := []string{"alpha", "beta", "gamma-1"}; !slices.Equal(list.Msg.Names, want) {
		t.Fatalf("repos %q, want %q", list.Msg.Names, want)
	}

	_, err = c.repo.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: "gamma-1"}))
	authWant(t, "duplicate", err, connect.CodeAlreadyExists)

	for _, name := range []string{"", "-x", "Upper", "a/b", "a.b", "..", strings.Repeat("a", 64), "naïve"} {
		_, err = c.repo.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: name}))
		authWant(t, "create "+name, err, connect.CodeInvalidArgument)
	}
	_, err = c.repo.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: strings.Repeat("a", 63)}))
	authWant(t, "63-byte name", err, 0)

	// A repository admin can neither create nor list repositories.
	_, err = f.as("admin").repo.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: "delta"}))
	authWant(t, "create as repo admin", err, connect.CodePermissionDenied)
	if _, err := f.eng.RepositoryID("delta"); err == nil {
		t.Fatal("refused CreateRepo created the repository")
	}
}

// testKeyFile returns a valid key file with cheap KDF parameters.
func testKeyFile(t *testing.T, label string) []byte {
	t.Helper()
	m, err := keys.NewMaster(rand.Reader, chunker.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keys.Wrap(m, []byte("pw"), keys.KDFParams{Time: 1, MemoryKiB: keys.MinKDFMemoryKiB, Threads: 1}, label, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

func TestKeyFileRoundTrip(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	kf := testKeyFile(t, "alice@laptop")

	put, err := f.as("admin").repo.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{Repo: "alpha", KeyFile: kf}))
	authWant(t, "put", err, 0)
	if sum := blake3.Sum256(kf); !bytes.Equal(put.Msg.Id, sum[:]) {
		t.Fatalf("key file ID %x, want BLAKE3 %x", put.Msg.Id, sum)
	}
	// Storing the same key file again is harmless.
	_, err = f.as("admin").repo.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{Repo: "alpha", KeyFile: kf}))
	authWant(t, "put again", err, 0)

	for _, p := range []string{"backup", "restore", "admin", "replicate", "server"} {
		list, err := f.as(p).repo.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: "alpha"}))
		authWant(t, "list as "+p, err, 0)
		if len(list.Msg.KeyFiles) != 1 || !bytes.Equal(list.Msg.KeyFiles[0].KeyFile, kf) || !bytes.Equal(list.Msg.KeyFiles[0].Id, put.Msg.Id) {
			t.Fatalf("list as %s: %d key files, want the one stored", p, len(list.Msg.KeyFiles))
		}
	}
	// Another repository's key files are its own.
	list, err := f.as("adminB").repo.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: "beta"}))
	authWant(t, "list beta", err, 0)
	if len(list.Msg.KeyFiles) != 0 {
		t.Fatalf("beta lists %d key files of alpha", len(list.Msg.KeyFiles))
	}

	flipped := slices.Clone(kf)
	flipped[0] ^= 1 // magic
	truncated := kf[:len(kf)-1]
	for name, blob := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("definitely not a key file"),
		"bad magic": flipped,
		"truncated": truncated,
		"too large": bytes.Repeat([]byte{1}, indexkey.MaxKeyFileSize+1),
	} {
		_, err := f.as("admin").repo.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{Repo: "alpha", KeyFile: blob}))
		authWant(t, "put "+name, err, connect.CodeInvalidArgument)
	}
	n := 0
	if err := f.eng.KeyFiles(f.alpha, func(format.ID, []byte) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("after refused puts: %d key files (%v), want 1", n, err)
	}
}

func TestGetStats(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	get := func(p string) *holdfastv1.GetStatsResponse {
		t.Helper()
		resp, err := f.as(p).repo.GetStats(ctx, connect.NewRequest(&holdfastv1.GetStatsRequest{Repo: "alpha"}))
		authWant(t, "stats as "+p, err, 0)
		return resp.Msg
	}
	if st := get("restore"); st.Snapshots != 0 || st.Chunks != 0 || st.Packs != 0 || st.LiveBytes != 0 || st.PackBytes != 0 {
		t.Fatalf("empty repository: %v", st)
	}

	m, err := keys.NewMaster(rand.Reader, chunker.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	k := m.Derive()
	s := seal.NewSealer(k)
	var ids []format.ID
	var envBytes uint64
	for i := range 5 {
		plain := bytes.Repeat([]byte{byte(i)}, 1000+i)
		id := s.ID(plain)
		env, err := s.Seal(nil, seal.TypeData, id, plain, make([]byte, seal.NonceSize))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.PutChunk(ctx, f.alpha, id, env); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		envBytes += uint64(len(env))
	}
	if err := f.eng.Flush(ctx, f.alpha); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, format.ID.Compare)
	commitTestSnapshot(t, f.eng, f.alpha, k, ids)

	st := get("replicate")
	if st.Snapshots != 1 || st.Chunks != 5 || st.Packs != 1 {
		t.Fatalf("stats %v, want 1 snapshot, 5 chunks, 1 pack", st)
	}
	if st.LiveBytes < envBytes || st.PackBytes < st.LiveBytes {
		t.Fatalf("stats %v: want envelope bytes %d <= live bytes <= pack bytes", st, envBytes)
	}
	// Beta holds nothing of it.
	resp, err := f.as("adminB").repo.GetStats(ctx, connect.NewRequest(&holdfastv1.GetStatsRequest{Repo: "beta"}))
	authWant(t, "stats beta", err, 0)
	if resp.Msg.Chunks != 0 || resp.Msg.Snapshots != 0 || resp.Msg.Packs != 0 {
		t.Fatalf("beta: %v", resp.Msg)
	}
	// The server admin names any repository, and an absent one is not found.
	_, err = f.as("server").repo.GetStats(ctx, connect.NewRequest(&holdfastv1.GetStatsRequest{Repo: "nope"}))
	authWant(t, "stats of absent repository", err, connect.CodeNotFound)
}

// commitTestSnapshot commits a snapshot referencing ids (ascending).
func commitTestSnapshot(t *testing.T, r *repo.Repo, repoID uint32, k keys.Keys, ids []format.ID) {
	t.Helper()
	sum, err := snapshot.RefsHash(ids)
	if err != nil {
		t.Fatal(err)
	}
	h := &snapshot.Header{
		Time:     time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC).UnixNano(),
		Host:     "host",
		Source:   snapshot.Source{Kind: "path", Name: "/data"},
		Root:     []tree.Extent{{ID: ids[0], Length: 1}},
		RefCount: uint64(len(ids)),
		RefsHash: sum,
	}
	h.Sign(k.MAC)
	if _, err := r.CommitSnapshot(context.Background(), repoID, h.Encode(), repo.RefsFromSlice(ids)); err != nil {
		t.Fatal(err)
	}
}
