package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// maxTreeDepth bounds how deep a walk descends. Real directory trees stay
// far below it; a tampered snapshot whose subtree points back at an
// ancestor's tree would otherwise recurse for ever.
const maxTreeDepth = 2048

// treeReadAhead is the read-ahead budget of one directory listing. Most
// listings are one chunk; a listing of millions of names streams through
// this much memory.
const treeReadAhead = 16 << 20

// Tree returns the entries of the directory whose encoded tree is in the
// chunks exts (a snapshot's Header.Root, or a directory entry's Subtree),
// in name order. It fetches the chunks, opens each (AEAD and ID), requires
// them to be tree chunks of the stated lengths, and decodes the
// concatenation with format/tree's streaming decoder, which validates every
// entry and name before it is yielded.
//
// The trailer (entry count and checksum) is verified only after the last
// entry: a caller that acts on entries must treat an error at the end as
// failing the whole directory. After an error the sequence ends.
func (r *Repository) Tree(ctx context.Context, exts []tree.Extent) iter.Seq2[*tree.Entry, error] {
	return func(yield func(*tree.Entry, error) bool) {
		if err := tree.ValidateSubtree(exts); err != nil {
			yield(nil, fmt.Errorf("tree extents: %w", format.Corruptf("%v", err)))
			return
		}
		cr := r.NewChunkReader(ctx, ReadOptions{MaxBytes: treeReadAhead, Streams: 1, Openers: 1})
		defer cr.Close()
		go func() {
			defer cr.CloseSend()
			for _, x := range exts {
				if cr.Push(ReadRequest{ID: x.ID, Length: x.Length, Type: seal.TypeTree}) != nil {
					return
				}
			}
		}()
		src := &treeSource{cr: cr}
		defer src.release()
		dec := tree.NewDecoder(src)
		for {
			e, err := dec.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// treeSource is the concatenated plaintext of a tree's chunks.
type treeSource struct {
	cr  *ChunkReader
	cur *ReadChunk
	off int
}

func (s *treeSource) Read(p []byte) (int, error) {
	for s.cur == nil || s.off == len(s.cur.Data) {
		s.release()
		c, err := s.cr.Next()
		if err != nil {
			return 0, err // io.EOF after the last chunk
		}
		if c.Err != nil {
			c.Release()
			return 0, c.Err
		}
		s.cur, s.off = c, 0
	}
	n := copy(p, s.cur.Data[s.off:])
	s.off += n
	return n, nil
}

func (s *treeSource) release() {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
}

// splitPath turns a path inside a snapshot ("/a/b", "a/b/", "" for the
// root) into its names. "." components are dropped; ".." is refused rather
// than interpreted, and every name must be one a tree may hold.
func splitPath(p string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(p, "/") {
		switch n {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("path %q: '..' is not allowed in a snapshot path", p)
		}
		if err := tree.CheckName(n); err != nil {
			return nil, fmt.Errorf("path %q: %v", p, err)
		}
		names = append(names, n)
	}
	return names, nil
}

// ErrNotInSnapshot: a path named by the user is not in the snapshot.
var ErrNotInSnapshot = errors.New("no such file or directory in the snapshot")

// lookup returns the entry at names below the directory root, or nil for
// names empty (the root itself). Every component before the last must be a
// directory: a symlink is never followed inside a snapshot.
func (r *Repository) lookup(ctx context.Context, root []tree.Extent, names []string) (*tree.Entry, error) {
	dir := root
	var found *tree.Entry
	for i, name := range names {
		found = nil
		for e, err := range r.Tree(ctx, dir) {
			if err != nil {
				return nil, fmt.Errorf("/%s: %w", strings.Join(names[:i], "/"), err)
			}
			if e.Name == name {
				found = e
				break
			}
			if e.Name > name {
				break // names are sorted
			}
		}
		p := "/" + strings.Join(names[:i+1], "/")
		if found == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrNotInSnapshot)
		}
		if i < len(names)-1 {
			if found.Type != tree.Dir {
				return nil, fmt.Errorf("%s: is a %s, not a directory (paths in a snapshot never follow symlinks)", p, found.Type)
			}
			dir = found.Subtree
		}
	}
	return found, nil
}

// walkFunc is called for each entry of a walk with its path relative to
// the snapshot root ("a/b"). For a directory, descend says whether to walk
// into it.
type walkFunc func(p string, e *tree.Entry) (descend bool, err error)

// walk visits the entries below the directory exts in pre-order (a
// directory, then what it holds, names in byte order). dir is the path of
// that directory ("" for the root).
func (r *Repository) walk(ctx context.Context, exts []tree.Extent, dir string, depth int, fn walkFunc) error {
	if depth > maxTreeDepth {
		return format.Corruptf("/%s: directories nest deeper than %d levels (a cycle in the trees?)", dir, maxTreeDepth)
	}
	for e, err := range r.Tree(ctx, exts) {
		if err != nil {
			return dirError(dir, err)
		}
		p := joinPath(dir, e.Name)
		descend, err := fn(p, e)
		if err != nil {
			return err
		}
		if descend && e.Type == tree.Dir {
			if err := r.walk(ctx, e.Subtree, p, depth+1, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirError names the directory whose listing failed, and says plainly
// when the listing itself is bad: damaged, or written to attack restore.
func dirError(dir string, err error) error {
	if format.IsCorrupt(err) {
		return fmt.Errorf("directory /%s: refusing a damaged or tampered listing: %w", dir, err)
	}
	return fmt.Errorf("directory /%s: %w", dir, err)
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
