package client

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// Dump writes part of a snapshot to w. When p names a regular file, w gets
// its bytes (holes as zeros). When p is empty, "/" or a directory, w gets
// a tar stream (PAX format) of that subtree: names relative to the
// snapshot root ("etc/", "etc/passwd"), directories with a trailing
// slash, modes, owners (ids and names), nanosecond times and xattrs
// (SCHILY.xattr.* records), symlinks, FIFOs and devices, hardlinks as tar
// hardlinks to the first member of their group, and sparse files as their
// full logical content. Sockets have no tar form and are left out.
//
// Chunks stream in order with read-ahead while the tar is written; memory
// stays bounded whatever the size of the snapshot.
func (r *Repository) Dump(ctx context.Context, snap Snapshot, p string, w io.Writer) error {
	return r.DumpProgress(ctx, snap, p, w, nil)
}

// DumpProgress is Dump that also counts what it wrote in progress (which
// may be nil).
func (r *Repository) DumpProgress(ctx context.Context, snap Snapshot, p string, w io.Writer, progress *Progress) error {
	names, err := splitPath(p)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if progress == nil {
		progress = &Progress{}
	}
	root := snap.Header.Root
	var top *tree.Entry
	if len(names) > 0 {
		if top, err = r.lookup(ctx, root, names); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
	}
	d := &dumper{r: r, progress: progress}
	switch {
	case top == nil:
		err = d.tar(ctx, root, "", nil, w)
	case top.Type == tree.Dir:
		err = d.tar(ctx, top.Subtree, strings.Join(names, "/"), top, w)
	case top.Type == tree.File:
		err = d.file(ctx, top, w)
	default:
		err = fmt.Errorf("/%s is a %s: dump writes a regular file's bytes or a directory as tar", strings.Join(names, "/"), top.Type)
	}
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	return nil
}

type dumper struct {
	r        *Repository
	progress *Progress
}

// dumpItem is one tar member, in walk order.
type dumpItem struct {
	path string
	e    *tree.Entry
	link string // hardlink target (the group's first path), or ""
}

// file writes one file's bytes: data chunks in order, holes as zeros.
func (d *dumper) file(ctx context.Context, e *tree.Entry, w io.Writer) error {
	cr := d.r.NewChunkReader(ctx, ReadOptions{})
	defer cr.Close()
	go func() {
		defer cr.CloseSend()
		pushContent(cr, e)
	}()
	return d.content(cr, e, w)
}

func pushContent(cr *ChunkReader, e *tree.Entry) error {
	for _, x := range e.Content {
		if !x.Hole {
			if err := cr.Push(ReadRequest{ID: x.ID, Length: x.Length, Type: seal.TypeData}); err != nil {
				return err
			}
		}
	}
	return nil
}

var zeros = make([]byte, 64<<10)

// content writes e's content, taking its chunks from cr in order.
func (d *dumper) content(cr *ChunkReader, e *tree.Entry, w io.Writer) error {
	for _, x := range e.Content {
		if x.Hole {
			for n := x.Length; n > 0; {
				k := min(n, uint64(len(zeros)))
				if _, err := w.Write(zeros[:k]); err != nil {
					return err
				}
				n -= k
			}
			continue
		}
		c, err := cr.Next()
		if err != nil {
			return err
		}
		if c.Err != nil {
			c.Release()
			return c.Err
		}
		_, err = w.Write(c.Data)
		d.progress.Bytes.Add(int64(len(c.Data)))
		c.Release()
		if err != nil {
			return err
		}
	}
	d.progress.Files.Add(1)
	return nil
}

// tar writes the subtree exts (whose path is dir; self is its entry, nil
// for the root) as a tar stream. A walker goroutine lists the members and
// queues their chunks; this goroutine writes headers and content.
func (d *dumper) tar(ctx context.Context, exts []tree.Extent, dir string, self *tree.Entry, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cr := d.r.NewChunkReader(ctx, ReadOptions{})
	defer cr.Close()
	items := make(chan dumpItem, 256)
	walkErr := make(chan error, 1)
	go func() {
		defer close(items)
		defer cr.CloseSend()
		walkErr <- d.plan(ctx, cr, exts, dir, self, items)
	}()
	tw := tar.NewWriter(w)
	for it := range items {
		if err := d.member(tw, cr, it); err != nil {
			cancel()
			for range items {
			}
			<-walkErr
			return fmt.Errorf("/%s: %w", it.path, err)
		}
	}
	if err := <-walkErr; err != nil {
		return err
	}
	return tw.Close()
}

// plan walks the subtree, sends each member to items and pushes the
// chunks of each file with content (not of later hardlinks) to cr.
func (d *dumper) plan(ctx context.Context, cr *ChunkReader, exts []tree.Extent, dir string, self *tree.Entry, items chan<- dumpItem) error {
	groups := map[uint64]string{}
	send := func(p string, e *tree.Entry) error {
		it := dumpItem{path: p, e: e}
		if e.HardlinkGroup != 0 && e.Type != tree.Dir {
			if first, ok := groups[e.HardlinkGroup]; ok {
				it.link = first
			} else {
				groups[e.HardlinkGroup] = p
			}
		}
		select {
		case items <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.Type == tree.File && it.link == "" {
			return pushContent(cr, e)
		}
		return nil
	}
	depth := 0
	if self != nil {
		if err := send(dir, self); err != nil {
			return err
		}
		depth = 1
	}
	return d.r.walk(ctx, exts, dir, depth, func(p string, e *tree.Entry) (bool, error) {
		if e.Type == tree.Socket {
			return false, nil
		}
		return true, send(p, e)
	})
}

// member writes one tar header and, for a regular file, its content.
func (d *dumper) member(tw *tar.Writer, cr *ChunkReader, it dumpItem) error {
	e := it.e
	h := &tar.Header{
		Name:       it.path,
		Mode:       int64(e.Mode),
		Uid:        int(e.UID),
		Gid:        int(e.GID),
		Uname:      e.User,
		Gname:      e.Group,
		ModTime:    time.Unix(0, e.MTime),
		AccessTime: time.Unix(0, e.ATime),
		ChangeTime: time.Unix(0, e.CTime),
		Format:     tar.FormatPAX,
	}
	if len(e.Xattrs) > 0 {
		h.PAXRecords = make(map[string]string, len(e.Xattrs))
		for _, x := range e.Xattrs {
			h.PAXRecords["SCHILY.xattr."+x.Name] = string(x.Value)
		}
	}
	switch {
	case it.link != "":
		h.Typeflag, h.Linkname = tar.TypeLink, it.link
	case e.Type == tree.File:
		h.Typeflag, h.Size = tar.TypeReg, int64(e.Size)
		if h.Size < 0 {
			return errors.New("file too large for tar")
		}
	case e.Type == tree.Dir:
		h.Typeflag, h.Name = tar.TypeDir, it.path+"/"
	case e.Type == tree.Symlink:
		h.Typeflag, h.Linkname = tar.TypeSymlink, e.LinkTarget
	case e.Type == tree.FIFO:
		h.Typeflag = tar.TypeFifo
	case e.Type == tree.CharDev, e.Type == tree.BlockDev:
		h.Typeflag = tar.TypeChar
		if e.Type == tree.BlockDev {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor, h.Devminor = int64(e.RDevMajor), int64(e.RDevMinor)
	default:
		return nil
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeReg {
		return d.content(cr, e, tw)
	}
	d.progress.Files.Add(1)
	return nil
}
