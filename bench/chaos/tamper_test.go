package chaos

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hfclient "github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/client/snaptest"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// tamperCase is a hostile snapshot: build commits it through the real
// server; want is what the restore's error must say ("" = the restore may
// succeed, as long as nothing lands outside the target).
type tamperCase struct {
	name  string
	build func(b *snaptest.Builder, outside string) (root []tree.Extent, err error)
	want  string
	fails bool // the restore must fail with one line, whatever it says
}

// rename replaces the name of an encoded record by evil (same length, so
// the record stays well-formed): names the encoder refuses to write.
func rename(rec []byte, placeholder, evil string) []byte {
	return bytes.Replace(rec, []byte(placeholder), []byte(evil), 1)
}

func tamperCases() []tamperCase {
	pwned := func(b *snaptest.Builder) tree.Entry { return b.File("pwned", 0o644, []byte("gotcha")) }
	return []tamperCase{{
		name: "path traversal name",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			evil := "../../" + filepath.Base(outside) + "/pwned"
			rec, err := snaptest.Record(b.File(strings.Repeat("q", len(evil)), 0o644, []byte("gotcha")))
			return b.Tree(snaptest.RawTree(rename(rec, strings.Repeat("q", len(evil)), evil))), err
		},
		want: "tampered",
	}, {
		name: "dot-dot directory",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			rec, err := snaptest.Record(b.Dir("zz", 0o755, pwned(b)))
			return b.Tree(snaptest.RawTree(rename(rec, "zz", ".."))), err
		},
		want: "tampered",
	}, {
		name: "symlink out, then a directory of the same name",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			link, err := snaptest.Record(b.Symlink("x", outside))
			if err != nil {
				return nil, err
			}
			dir, err := snaptest.Record(b.Dir("x", 0o755, pwned(b)))
			return b.Tree(snaptest.RawTree(link, dir)), err
		},
		want: "tampered",
	}, {
		name: "duplicate entries",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			rec, err := snaptest.Record(pwned(b))
			return b.Tree(snaptest.RawTree(rec, rec)), err
		},
		want: "tampered",
	}, {
		name: "huge size over a small chunk",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			// Extents claim the maximum chunk length over a 6-byte chunk.
			f := pwned(b)
			ext := f.Content[0]
			ext.Length = 16 << 20
			f.Content = []tree.Extent{ext, ext, ext, ext}
			f.Size = 4 * ext.Length
			return b.Listing(f), nil
		},
		fails: true,
	}, {
		name: "huge sparse file",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			f := pwned(b)
			f.Size, f.Content = 1<<50, []tree.Extent{{Hole: true, Length: 1 << 50}}
			return b.Listing(f), nil
		},
		want: "",
	}, {
		name: "one listing under two names, symlink out beside it",
		build: func(b *snaptest.Builder, outside string) ([]tree.Extent, error) {
			sub := b.Listing(pwned(b), b.Symlink("out", outside))
			d1, d2 := b.Dir("a", 0o755), b.Dir("b", 0o755)
			d1.Subtree, d2.Subtree = sub, sub
			return b.Listing(d1, d2), nil
		},
		want: "",
	}}
}

// TestChaosTamperedSnapshots commits hostile snapshots through the real
// server (built with client/snaptest, signed with the repository key as a
// client holding it could) and restores each with the real client into a
// target beside a directory it must not touch. Nothing may appear or
// change outside the target, and the traversal cases must be refused as
// tampered with exit 1 and one line.
func TestChaosTamperedSnapshots(t *testing.T) {
	skipShort(t)
	s := newTally(t, "tampered-snapshot")
	f := newFixture(t, nil, 2, 64<<10)
	ctx := context.Background()
	conn := hfclient.Dial(hfclient.Config{Server: f.d.url, Token: f.admin.token, Repo: chaosRepo})
	r, err := hfclient.Open(ctx, conn, []byte(chaosPassword))
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for range roundsOf(1, 1) {
		s.rounds++
		for _, tc := range tamperCases() {
			base := t.TempDir()
			outside, target := filepath.Join(base, "outside"), filepath.Join(base, "target")
			os.Mkdir(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "precious"), []byte("precious"), 0o644)
			b := snaptest.New(ctx, r)
			root, err := tc.build(b, outside)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			id, err := b.Commit(root)
			if err != nil {
				s.fail("%s: commit: %v", tc.name, err)
				continue
			}
			res := f.restore.run("restore", id.String(), "--target", target)
			if tc.fails {
				f.checkRefused(s, res, tc.name)
			}
			if tc.want != "" {
				f.checkRefused(s, res, tc.name)
				if !strings.Contains(res.stderr, tc.want) {
					s.fail("%s: error %q does not say %q", tc.name, strings.TrimSpace(res.stderr), tc.want)
				}
				refused++
			} else if res.code != 0 && res.code != 1 {
				s.fail("%s: %v", tc.name, res)
			} else {
				t.Logf("%s: %v", tc.name, res)
			}
			if err := escaped(base, target); err != nil {
				s.fail("%s: %v", tc.name, err)
			}
		}
	}
	s.report(itoa(len(tamperCases()))+" hostile snapshots", itoa(refused)+" refused as tampered", "nothing outside the target")
}

// escaped fails if anything under base but outside target changed: the
// outside directory must hold exactly its precious file, and no other file
// may exist.
func escaped(base, target string) error {
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case p == target:
			return filepath.SkipDir
		case p == base, p == filepath.Join(base, "outside"):
			return nil
		case p == filepath.Join(base, "outside", "precious"):
			b, err := os.ReadFile(p)
			if err != nil || string(b) != "precious" {
				return &fs.PathError{Op: "restore changed", Path: "outside/precious", Err: fs.ErrInvalid}
			}
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		return &fs.PathError{Op: "restore wrote outside the target", Path: rel, Err: fs.ErrExist}
	})
}
