package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// bkCompressions returns the compression byte of every data chunk of
// exts, as stored on the server.
func bkCompressions(t *testing.T, r *Repository, exts []tree.Extent) []seal.Compression {
	t.Helper()
	var ids [][]byte
	for _, x := range exts {
		if !x.Hole {
			ids = append(ids, x.ID[:])
		}
	}
	st, err := r.Chunks.ReadChunks(context.Background(), connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: r.Repo(), Ids: ids}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []seal.Compression
	for st.Receive() {
		h, err := seal.ParseHeader(st.Msg().Envelope)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Compression)
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackupCompression backs up the same files with each writer: text is
// stored with the chosen codec and reads back exact, random data is
// stored as it is by every writer, and an unknown codec is refused before
// anything is read.
func TestBackupCompression(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	dir := t.TempDir()
	// Numbered lines: compressible, but no two chunks alike whatever the
	// repository's chunker key (a repeated line gave identical chunks for
	// some keys, and the deduplicated upload looked compressed).
	var text []byte
	for i := range 60000 {
		text = fmt.Appendf(text, "all work and no play makes a backup dull, line %d\n", i) // 3 MiB
	}
	random := bkRandom(7, 1<<20)
	bkWrite(t, filepath.Join(dir, "text"), text)
	bkWrite(t, filepath.Join(dir, "random"), random)
	for _, c := range []struct {
		flag string
		want seal.Compression
	}{{"", seal.Zstd}, {"zstd", seal.Zstd}, {"s2", seal.S2}, {"none", seal.None}} {
		name := "compress-" + c.flag
		if c.flag == "" {
			name = "compress-default"
		}
		r := srv.initRepo(t, name, bkTestParams)
		sum, err := r.Backup(ctx, BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true, Compression: c.flag})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		root := bkSnapshotTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root)[""]
		for file, data := range map[string][]byte{"text": text, "random": random} {
			e := bkEntry(t, root, file)
			if got := bkReadContent(t, r, e.Content); !bytes.Equal(got, data) {
				t.Fatalf("%s: %s reads back wrong", name, file)
			}
			want := c.want
			if file == "random" {
				want = seal.None
			}
			for i, got := range bkCompressions(t, r, e.Content) {
				// The file's last chunk can be a few bytes (the boundaries
				// follow the repository's chunker key), too few for any
				// codec to save the 1% a writer asks for: it is stored as
				// it is, rightly. Neither file has holes, so extent i is
				// chunk i.
				if e.Content[i].Length < 1<<10 && got == seal.None {
					continue
				}
				if got != want {
					t.Errorf("%s: %s chunk %d stored with %v, want %v", name, file, i, got, want)
				}
			}
		}
		if c.want == seal.None && sum.BytesUploaded < uint64(len(text)+len(random)) {
			t.Errorf("%s: uploaded %d bytes of %d: compressed", name, sum.BytesUploaded, len(text)+len(random))
		}
	}
	r := srv.initRepo(t, "compress-bad", bkTestParams)
	_, err := r.Backup(ctx, BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true, Compression: "lz4"})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("compression lz4: %v, want ErrInvalidOptions", err)
	}
}
