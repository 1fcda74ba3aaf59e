package client

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// rsJob is a regular file being written: the walker opened it and queued
// its chunks; the dispatcher hands each chunk to the file's writer, which
// finishes the file after the last.
type rsJob struct {
	seq    int64
	dir    *rsDir
	rel    string
	e      *tree.Entry
	f      *os.File // nil until the writer creates the file (create)
	create bool     // the writer creates the file (O_EXCL) on its first op
	spans  []rsSpan // data extents still to write, in file order
	failed bool     // writer-only: creating or writing failed
	synced int64    // writer-only: writeback started for bytes before this
}

type rsSpan struct {
	off int64
	ext int // index in e.Content
}

type rsOp struct {
	file   *rsJob
	off    int64
	chunk  *ReadChunk
	finish bool
}

// startFile prepares a regular file: it keeps what an earlier run wrote
// correctly, or creates the file afresh, and queues the chunks still
// missing. Writing and metadata happen in the writers.
func (rs *restorer) startFile(d *rsDir, e *tree.Entry, p string) error {
	var f *os.File
	var first int
	if !d.fresh {
		var done bool
		var err error
		if f, first, done, err = rs.openFile(d, e, p); err != nil || done {
			return err
		}
	}
	job := &rsJob{seq: rs.seq, dir: d, rel: p, e: e, f: f, create: f == nil}
	rs.seq++
	var off int64
	for i, x := range e.Content {
		if i >= first && !x.Hole {
			job.spans = append(job.spans, rsSpan{off: off, ext: i})
		}
		off += int64(x.Length)
	}
	d.ref()
	// The job goes first: the dispatcher must be able to take this file's
	// chunks while the walker is still pushing them.
	select {
	case rs.jobs <- job:
	case <-rs.ctx.Done():
		if f != nil {
			f.Close()
		}
		d.unref()
		return rs.ctx.Err()
	}
	for _, sp := range job.spans {
		x := e.Content[sp.ext]
		if err := rs.reader.Push(ReadRequest{ID: x.ID, Length: x.Length, Type: seal.TypeData}); err != nil {
			return err
		}
	}
	return nil
}

// openFile looks at what the target holds at the file's place, in a
// directory restore did not create. It returns done when that is already
// the file's exact content (its metadata is then applied here), an open
// file and the first extent to fetch when a correct beginning can be
// kept, and otherwise no file: the place is cleared and the writer
// creates the file.
func (rs *restorer) openFile(d *rsDir, e *tree.Entry, p string) (f *os.File, first int, done bool, err error) {
	name := e.Name
	fi, err := d.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
	case fi.Mode().IsRegular():
		f, first, done, err := rs.resume(d, e, p, fi)
		if err != nil || done || f != nil {
			return f, first, done, err
		}
		// Nothing usable: start over.
		if err := d.root.Remove(name); err != nil {
			return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
		}
	default:
		if err := removeExisting(d, name, fi); err != nil {
			return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
		}
	}
	return nil, 0, false, nil
}

// resume checks a regular file an earlier run (or anyone) left at the
// file's place. It compares the chunk IDs of the file's bytes with the
// snapshot's extents, in order. When all match and the size is right the
// file is done (done = true: metadata applied, nothing fetched). When a
// beginning matches, the file is reopened for writing, cut after that
// beginning, and first says which extent to fetch from. Otherwise it
// returns no file and the caller starts over.
//
// A file with other hardlinks is only ever kept as it is: writing into it
// would write through a link restore did not make.
func (rs *restorer) resume(d *rsDir, e *tree.Entry, p string, fi fs.FileInfo) (f *os.File, first int, done bool, err error) {
	rf, err := d.root.OpenFile(e.Name, os.O_RDONLY, 0)
	if isPermission(err) {
		return nil, 0, false, nil // unreadable to us: replace it
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
	}
	defer func() {
		if rf != nil {
			rf.Close()
		}
	}()
	st, err := rf.Stat()
	if err != nil {
		return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
	}
	if !os.SameFile(fi, st) || !st.Mode().IsRegular() {
		return nil, 0, false, fmt.Errorf("/%s: replaced while restoring", p)
	}
	nlink := statNlink(st)
	if nlink > 1 && e.HardlinkGroup == 0 {
		return nil, 0, false, nil
	}
	n, off, err := rs.verifiedPrefix(rf, st.Size(), e)
	if err != nil {
		return nil, 0, false, fmt.Errorf("/%s: check existing file: %w", p, err)
	}
	if n == len(e.Content) && uint64(st.Size()) == e.Size {
		if err := rs.fileMeta(rf, e, p, ownerOf(st)); err != nil {
			return nil, 0, false, err
		}
		rs.count(func(r *RestoreResult) { r.FilesSkipped++ })
		rs.opts.Progress.Files.Add(1)
		return nil, 0, true, nil
	}
	if n == 0 || nlink > 1 {
		return nil, 0, false, nil
	}
	if st.Mode().Perm()&0o200 == 0 {
		if err := sysFchmod(rf, 0o600); err != nil {
			return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
		}
	}
	wf, err := d.root.OpenFile(e.Name, os.O_WRONLY, 0)
	if err != nil {
		return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
	}
	if wst, err := wf.Stat(); err != nil || !os.SameFile(st, wst) {
		wf.Close()
		return nil, 0, false, fmt.Errorf("/%s: replaced while restoring", p)
	}
	if err := wf.Truncate(off); err != nil {
		wf.Close()
		return nil, 0, false, fmt.Errorf("/%s: %w", p, err)
	}
	rs.count(func(r *RestoreResult) { r.FilesResumed++ })
	return wf, n, false, nil
}

// verifiedPrefix returns how many of e's extents the file f (of size
// size) holds correctly from its start, and where they end. A data extent
// is correct when the keyed chunk ID of those bytes is the extent's ID,
// so nothing is downloaded to check; a hole when it reads as zeros.
func (rs *restorer) verifiedPrefix(f *os.File, size int64, e *tree.Entry) (int, int64, error) {
	var off int64
	for i, x := range e.Content {
		end := off + int64(x.Length)
		if end > size || end < off {
			return i, off, nil
		}
		var ok bool
		var err error
		if x.Hole {
			ok, err = zeroRegion(f, off, end)
		} else {
			if uint64(cap(rs.scratch)) < x.Length {
				rs.scratch = make([]byte, x.Length)
			}
			buf := rs.scratch[:x.Length]
			if _, err = f.ReadAt(buf, off); err == io.EOF {
				return i, off, nil
			}
			ok = err == nil && rs.r.Sealer.ID(buf) == x.ID
		}
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			return i, off, nil
		}
		off = end
	}
	return len(e.Content), off, nil
}

// zeroRegion reports whether f reads as zeros in [start, end): holes are
// skipped with SEEK_DATA/SEEK_HOLE, data regions are read.
func zeroRegion(f *os.File, start, end int64) (bool, error) {
	var buf []byte
	for pos := start; pos < end; {
		d, err := sysNextData(f, pos)
		if err != nil {
			return false, err
		}
		if d < 0 || d >= end {
			return true, nil
		}
		h, err := sysNextHole(f, d)
		if err != nil {
			return false, err
		}
		stop := min(max(h, d+1), end)
		if buf == nil {
			buf = make([]byte, 1<<20)
		}
		for d < stop {
			n := min(int64(len(buf)), stop-d)
			if _, err := f.ReadAt(buf[:n], d); err != nil {
				return false, err
			}
			for _, b := range buf[:n] {
				if b != 0 {
					return false, nil
				}
			}
			d += n
		}
		pos = stop
	}
	return true, nil
}

// dispatch takes files in walk order and their chunks in the same order
// from the reader, and hands them to the writers: all of one file to the
// same writer, so it finishes the file after its last chunk.
func (rs *restorer) dispatch() {
	n := rs.opts.Writers
	queues := make([]chan rsOp, n)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan rsOp, 64)
		wg.Add(1)
		go func(q chan rsOp) { defer wg.Done(); rs.writer(q) }(queues[i])
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
	}()
	for job := range rs.jobs {
		q := queues[job.seq%int64(n)]
		for _, sp := range job.spans {
			if rs.ctx.Err() != nil {
				break
			}
			c, err := rs.reader.Next()
			if err == nil && c.Err != nil {
				err = c.Err
				c.Release()
			}
			if err != nil {
				rs.fail(fmt.Errorf("/%s: %w", job.rel, err))
				break
			}
			q <- rsOp{file: job, off: sp.off, chunk: c}
		}
		q <- rsOp{file: job, finish: true}
	}
}

// writer creates files, writes chunks at their offsets (holes are never
// written: the final Truncate makes them) and finishes files.
func (rs *restorer) writer(q chan rsOp) {
	for op := range q {
		job := op.file
		if job.create && job.f == nil && !job.failed && rs.ctx.Err() == nil {
			// O_EXCL never follows a symlink and fails if anything is there.
			f, err := createFile(job.dir, job.e.Name)
			if err != nil {
				job.failed = true
				rs.fail(fmt.Errorf("/%s: create: %w", job.rel, unwrapPathErr(err)))
			}
			job.f = f
		}
		if op.finish {
			rs.finishFile(job)
			continue
		}
		if rs.ctx.Err() == nil && !job.failed {
			if _, err := job.f.WriteAt(op.chunk.Data, op.off); err != nil {
				job.failed = true
				rs.fail(fmt.Errorf("/%s: write: %w", job.rel, unwrapPathErr(err)))
			} else {
				n := int64(len(op.chunk.Data))
				rs.opts.Progress.Bytes.Add(n)
				rs.count(func(r *RestoreResult) { r.Bytes += n })
				if end := op.off + n; end-job.synced >= dropWindow {
					rs.drop.written(job.f, job.rel, job.synced, end-job.synced)
					job.synced = end
				}
			}
		}
		op.chunk.Release()
	}
}

// finishFile sets the file's final size (a trailing hole), then its
// metadata, and hands it to the dropper, which closes it.
func (rs *restorer) finishFile(job *rsJob) {
	defer job.dir.unref()
	f := job.f
	if f == nil {
		return // creating it failed
	}
	if rs.ctx.Err() != nil || job.failed {
		if job.synced > 0 {
			rs.drop.finish(f, job.rel, 0, 0) // after the ranges it still holds
		} else {
			f.Close()
		}
		return
	}
	var err error
	c := job.e.Content
	if !job.create || (len(c) > 0 && c[len(c)-1].Hole) {
		// A trailing hole, or a kept file that may be longer: set the
		// size. A new file whose last extent is data has it already.
		if err = f.Truncate(int64(job.e.Size)); err != nil {
			err = fmt.Errorf("/%s: %w", job.rel, err)
		}
	}
	if err == nil {
		cur := rsOwner{} // a kept file: chown it
		if job.create {
			cur = rs.newFileOwner(job.dir)
		}
		err = rs.fileMeta(f, job.e, job.rel, cur)
	}
	if size := int64(job.e.Size); size >= dropMinFile || job.synced > 0 {
		rs.drop.finish(f, job.rel, job.synced, size-job.synced)
	} else if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("/%s: %w", job.rel, cerr)
	}
	if err != nil {
		rs.fail(err)
		return
	}
	rs.count(func(r *RestoreResult) { r.Files++ })
	rs.opts.Progress.Files.Add(1)
}

// createFile creates name in d for writing, mode 0600, failing if anything
// is there: openat on the directory's descriptor where the system has it,
// else through the directory's os.Root.
func createFile(d *rsDir, name string) (*os.File, error) {
	if dir, err := d.file(); err == nil {
		f, err := sysCreateAt(dir, name)
		if !errors.Is(err, errors.ErrUnsupported) {
			return f, err
		}
	}
	return d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
