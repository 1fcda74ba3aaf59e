package client

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// rsFlatten lists the nodes below dir in pre-order, as paths.
func rsFlatten(dir string, nodes []*rsNode, out map[string]*rsNode, order *[]string) {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *rsNode) int { return strings.Compare(a.name, b.name) })
	for _, n := range sorted {
		p := joinPath(dir, n.name)
		out[p] = n
		*order = append(*order, p)
		if n.typ == tree.Dir {
			rsFlatten(p, n.kids, out, order)
		}
	}
}

func rsContent(n *rsNode) []byte {
	var b []byte
	for _, p := range n.parts {
		b = append(b, p.data...)
		b = append(b, make([]byte, p.hole)...)
	}
	return b
}

func TestDumpTar(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	nodes := rsSample()
	snap := rsSnapshot(t, r, nodes...)
	ctx := context.Background()
	all := map[string]*rsNode{}
	var order []string
	rsFlatten("", nodes, all, &order)

	var buf bytes.Buffer
	if err := r.Dump(ctx, snap, "", &buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		names = append(names, name)
		n := all[name]
		if n == nil {
			t.Errorf("unexpected member %q", h.Name)
			continue
		}
		mtime := n.mtime
		if mtime == 0 {
			mtime = rsDefaultTime
		}
		if !h.ModTime.Equal(time.Unix(0, mtime)) || h.Mode != int64(n.mode) || h.Uid != int(n.uid) || h.Gid != int(n.gid) {
			t.Errorf("%s: header %v %o %d:%d, want %v %o %d:%d", name, h.ModTime, h.Mode, h.Uid, h.Gid, time.Unix(0, mtime), n.mode, n.uid, n.gid)
		}
		for _, x := range n.xattrs {
			if got := h.PAXRecords["SCHILY.xattr."+x.Name]; got != string(x.Value) {
				t.Errorf("%s: xattr %s = %q, want %q", name, x.Name, got, x.Value)
			}
		}
		switch n.typ {
		case tree.File:
			if n.name == "hard2" || n.name == "hard3" {
				if h.Typeflag != tar.TypeLink || h.Linkname != "hard1" {
					t.Errorf("%s: %c → %q, want a hardlink to hard1", name, h.Typeflag, h.Linkname)
				}
				continue
			}
			got, _ := io.ReadAll(tr)
			if h.Typeflag != tar.TypeReg || !bytes.Equal(got, rsContent(n)) {
				t.Errorf("%s: type %c, %d bytes; want a file of %d bytes", name, h.Typeflag, len(got), len(rsContent(n)))
			}
		case tree.Dir:
			if h.Typeflag != tar.TypeDir || !strings.HasSuffix(h.Name, "/") {
				t.Errorf("%s: type %c name %q, want a directory", name, h.Typeflag, h.Name)
			}
		case tree.Symlink:
			if h.Typeflag != tar.TypeSymlink || h.Linkname != n.target {
				t.Errorf("%s: %c → %q, want symlink to %q", name, h.Typeflag, h.Linkname, n.target)
			}
		case tree.FIFO:
			if h.Typeflag != tar.TypeFifo {
				t.Errorf("%s: type %c, want FIFO", name, h.Typeflag)
			}
		case tree.CharDev:
			if h.Typeflag != tar.TypeChar || h.Devmajor != int64(n.major) || h.Devminor != int64(n.minor) {
				t.Errorf("%s: %c %d,%d, want char device", name, h.Typeflag, h.Devmajor, h.Devminor)
			}
		}
	}
	want := slices.DeleteFunc(slices.Clone(order), func(p string) bool { return all[p].typ == tree.Socket })
	if !slices.Equal(names, want) {
		t.Errorf("members\n%q\nwant\n%q", names, want)
	}

	// A subtree: its own header, then what it holds, with full paths.
	buf.Reset()
	if err := r.Dump(ctx, snap, "/sub/deeper/", &buf); err != nil {
		t.Fatal(err)
	}
	tr = tar.NewReader(&buf)
	names = nil
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if want := []string{"sub/deeper/", "sub/deeper/hard3", "sub/deeper/leaf.txt"}; !slices.Equal(names, want) {
		t.Errorf("subtree members %q, want %q", names, want)
	}

	// A single file: its bytes, holes as zeros.
	buf.Reset()
	if err := r.Dump(ctx, snap, "sparse.img", &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), rsContent(all["sparse.img"])) {
		t.Errorf("sparse.img: %d bytes differ from the %d expected", buf.Len(), len(rsContent(all["sparse.img"])))
	}

	// Neither symlinks nor paths through them.
	for _, p := range []string{"rel-link", "rel-link/x", "missing", "a.txt/x", "../x"} {
		if err := r.Dump(ctx, snap, p, io.Discard); err == nil {
			t.Errorf("dump %q: no error", p)
		}
	}
}

func TestLs(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	nodes := rsSample()
	snap := rsSnapshot(t, r, nodes...)
	all := map[string]*rsNode{}
	var order []string
	rsFlatten("", nodes, all, &order)
	ls := func(p string) []string {
		var out []string
		err := r.Ls(context.Background(), snap, p, func(q string, e *tree.Entry) error {
			if n := all[strings.TrimPrefix(q, "/")]; n == nil || n.typ != e.Type || n.name != e.Name {
				t.Errorf("%s: entry %+v does not match", q, e)
			}
			out = append(out, q)
			return nil
		})
		if err != nil {
			t.Fatalf("ls %q: %v", p, err)
		}
		return out
	}
	var want []string
	for _, p := range order {
		want = append(want, "/"+p)
	}
	if got := ls("/"); !slices.Equal(got, want) {
		t.Errorf("ls /:\n%q\nwant\n%q", got, want)
	}
	if got, want := ls("sub/deeper"), []string{"/sub/deeper", "/sub/deeper/hard3", "/sub/deeper/leaf.txt"}; !slices.Equal(got, want) {
		t.Errorf("ls sub/deeper: %q, want %q", got, want)
	}
	if got := ls("/old"); !slices.Equal(got, []string{"/old"}) {
		t.Errorf("ls /old: %q", got)
	}
	if err := r.Ls(context.Background(), snap, "rel-link/big.bin", func(string, *tree.Entry) error { return nil }); err == nil {
		t.Error("ls through a symlink: no error")
	}
}
