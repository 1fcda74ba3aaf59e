package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// backupWalker builds one tree per directory, depth first, names sorted,
// from the listings the scanner (bkScanner) hands it. It runs on one
// goroutine: it compares each entry with the previous snapshot, reads
// xattrs where they may have changed, and hands regular files that need
// reading to the pipeline's readers, then waits for them when the
// directory is complete, encodes its tree, chunks and offers it, and
// returns the tree's extents to the parent.
type backupWalker struct {
	ctx     context.Context
	pipe    *backupPipe
	plan    *backupPlan
	scanner *bkScanner
	prev    bkPrev
	cache   *bkTreeCache
	names   bkNames

	links     map[bkDevIno]*bkLink
	nextGroup uint64

	refs      []format.ID // every referenced chunk, compacted now and then
	compactAt int
	errs      []FileError

	// Totals for the header and the summary.
	size, files, dirs                       uint64
	filesNew, filesChanged, filesUnmodified uint64

	// Progress counters, read by another goroutine.
	doneFiles, doneDirs, doneBytes atomic.Uint64
}

type bkDevIno struct{ dev, ino uint64 }

// bkLink is the first occurrence of a file with links > 1; later ones
// take its content and share its group number.
type bkLink struct {
	group   uint64
	job     *bkFileJob    // nil when the content was reused unread
	content []tree.Extent // when reused
	size    uint64
}

// bkSlot is one entry of the directory being built.
type bkSlot struct {
	e        tree.Entry
	abs      string
	job      *bkFileJob
	link     *bkLink
	follower bool    // a later link: content comes from link
	class    *uint64 // the counter count incremented (new, changed, unmodified)
}

// bkSkip is a file or directory that cannot be backed up; the walk records
// it and goes on.
type bkSkip struct{ err error }

func (s bkSkip) Error() string { return s.err.Error() }

func newBackupWalker(pipe *backupPipe, plan *backupPlan, scan *bkScanner, prev bkPrev, cache *bkTreeCache) *backupWalker {
	return &backupWalker{
		ctx: pipe.ctx, pipe: pipe, plan: plan, scanner: scan, prev: prev, cache: cache,
		links: map[bkDevIno]*bkLink{}, compactAt: 1 << 16,
	}
}

// run walks every root and returns the root tree's extents.
func (w *backupWalker) run() ([]tree.Extent, error) {
	if w.plan.rootDir {
		exts, _, err := w.dir(w.plan.roots[0].abs, "", nil)
		var skip bkSkip
		if errors.As(err, &skip) {
			return nil, skip.err
		}
		w.dirs++
		return exts, err
	}
	l, err := w.scanner.next("")
	if err != nil {
		return nil, w.scanErr(err)
	}
	return w.build("", nil, l)
}

func compareNames(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dir builds the tree of the directory abs (at rel below the root) from
// its listing, the scanner's next. prevEntry is its entry in the previous
// snapshot, nil if none. It also returns the listing (for the atime the
// listing left).
func (w *backupWalker) dir(abs, rel string, prevEntry *tree.Entry) ([]tree.Extent, *bkListing, error) {
	l, err := w.scanner.next(abs)
	if err != nil {
		return nil, nil, w.scanErr(err)
	}
	if l.err != nil {
		return nil, nil, bkSkip{l.err}
	}
	exts, err := w.build(rel, prevEntry, l)
	return exts, l, err
}

// scanErr is the error to stop the walk with when the scanner has no
// listing: the pipeline's, if it failed or was stopped.
func (w *backupWalker) scanErr(err error) error {
	if perr := w.pipe.failed(); perr != nil {
		return perr
	}
	return err
}

// bkOpenDir opens a directory for listing without following a symlink
// and, where allowed, without updating its atime, so that listing a
// directory does not change what the next backup records for it.
func bkOpenDir(abs string) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(abs, flags|oNoAtime, 0)
	if err == unix.EPERM {
		fd, err = unix.Open(abs, flags, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	return os.NewFile(uintptr(fd), abs), nil
}

// excluded reports whether an entry (rel, its path below the root; name,
// its base name) matches an exclude glob.
func (p *backupPlan) excluded(rel, name string) bool {
	for _, g := range p.excludes {
		if m, _ := path.Match(g, rel); m {
			return true
		}
		if m, _ := path.Match(g, name); m {
			return true
		}
	}
	return false
}

func (w *backupWalker) skip(p string, err error) {
	w.errs = append(w.errs, FileError{Path: p, Err: err})
}

// build makes the tree of one directory from its listing.
func (w *backupWalker) build(rel string, prevEntry *tree.Entry, l *bkListing) ([]tree.Extent, error) {
	prev, err := w.prev.dir(w.ctx, rel, prevEntry)
	if err != nil {
		if w.ctx.Err() != nil {
			return nil, w.pipe.failed()
		}
		prev = nil // an unreadable previous tree only means reading again
	}
	slots := make([]*bkSlot, 0, len(l.entries))
	for i := range l.entries {
		c := &l.entries[i]
		if c.err != nil {
			w.skip(c.abs, c.err)
			continue
		}
		s := &bkSlot{e: tree.Entry{Name: c.name}, abs: c.abs}
		if err := w.names.fillStat(&s.e, &c.st); err != nil {
			w.skip(c.abs, err)
			continue
		}
		p := prev[c.name]
		w.xattrs(s, p)
		switch s.e.Type {
		case tree.Dir:
			if p != nil && p.Type != tree.Dir {
				p = nil
			}
			exts, sub, err := w.dir(c.abs, path.Join(rel, c.name), p)
			var skip bkSkip
			if errors.As(err, &skip) {
				w.skip(c.abs, skip.err)
				continue
			}
			if err != nil {
				return nil, err
			}
			s.e.Subtree = exts
			// Listing it may have moved its atime (where O_NOATIME is not
			// allowed): record the atime the listing left, as for files.
			if sub.afterOK && sub.after.Ino == c.st.Ino {
				s.e.ATime = sub.after.Atim.Nano()
			}
			w.dirs++
			w.doneDirs.Add(1)
		case tree.Symlink:
			if c.targetErr != nil {
				w.skip(c.abs, c.targetErr)
				continue
			}
			s.e.LinkTarget = c.target
			if c.afterOK {
				s.e.ATime = c.after.Atim.Nano()
			}
			w.count(s, p)
		case tree.File:
			if err := w.file(s, &c.st, p); err != nil {
				return nil, err
			}
		default:
			w.count(s, p)
		}
		slots = append(slots, s)
	}
	entries := make([]tree.Entry, 0, len(slots))
	for _, s := range slots {
		if s.e.Type == tree.File && !w.finishFile(s) {
			continue
		}
		entries = append(entries, s.e)
	}
	if err := w.pipe.failed(); err != nil {
		return nil, err
	}
	return w.emitTree(rel, entries)
}

// xattrs sets the entry's extended attributes. An entry whose inode and
// ctime equal its previous entry's has the same ones (setting or removing
// an xattr updates the ctime), so they are copied; others are read.
func (w *backupWalker) xattrs(s *bkSlot, p *tree.Entry) {
	if p != nil && p.Type == s.e.Type && p.Inode == s.e.Inode && p.CTime == s.e.CTime {
		s.e.Xattrs = p.Xattrs
		return
	}
	xs, err := bkXattrs(s.abs)
	if err != nil {
		w.skip(s.abs, err) // the entry is kept with the xattrs that could be read
	}
	s.e.Xattrs = xs
}

// count classifies a finished non-directory entry against the previous
// snapshot: new, changed or unmodified.
func (w *backupWalker) count(s *bkSlot, p *tree.Entry) {
	switch {
	case p == nil || p.Type != s.e.Type:
		s.class = &w.filesNew
	case p.MTime == s.e.MTime && p.CTime == s.e.CTime && p.Size == s.e.Size && p.Inode == s.e.Inode &&
		p.LinkTarget == s.e.LinkTarget:
		s.class = &w.filesUnmodified
	default:
		s.class = &w.filesChanged
	}
	*s.class++
	w.files++
	w.doneFiles.Add(1)
}

// drop leaves out a file that count counted but that could not be read.
func (w *backupWalker) drop(s *bkSlot, err error) {
	w.skip(s.abs, err)
	*s.class--
	w.files--
}

// file decides how a regular file gets its content: from its first link,
// from the previous snapshot (size, mtime, ctime and inode unchanged and
// every chunk held by the server), or by reading it.
func (w *backupWalker) file(s *bkSlot, st *unix.Stat_t, p *tree.Entry) error {
	if p != nil && p.Type != tree.File {
		p = nil
	}
	w.count(s, p)
	if st.Nlink > 1 {
		key := bkDevIno{statDev(st), st.Ino}
		if l, ok := w.links[key]; ok {
			s.link, s.follower, s.e.HardlinkGroup = l, true, l.group
			return nil
		}
		w.nextGroup++
		s.link = &bkLink{group: w.nextGroup}
		s.e.HardlinkGroup = s.link.group
		w.links[key] = s.link
	}
	if p != nil && p.Size == s.e.Size && p.MTime == s.e.MTime && p.CTime == s.e.CTime && p.Inode == s.e.Inode &&
		w.allKnown(p.Content) {
		s.e.Content = p.Content
		if s.link != nil {
			s.link.content, s.link.size = p.Content, p.Size
		}
		return nil
	}
	s.job = &bkFileJob{path: s.abs, st: *st, done: make(chan struct{})}
	if s.link != nil {
		s.link.job = s.job
	}
	return w.pipe.submit(s.job)
}

// allKnown reports whether the server holds (and this session pinned)
// every data chunk of exts.
func (w *backupWalker) allKnown(exts []tree.Extent) bool {
	for _, x := range exts {
		if !x.Hole && !w.pipe.isKnown(x.ID) {
			return false
		}
	}
	return true
}

// finishFile completes a file entry once its content is known. It returns
// false if the file is left out.
func (w *backupWalker) finishFile(s *bkSlot) bool {
	switch {
	case s.follower && s.link.job != nil:
		j := s.link.job
		<-j.done
		if j.err != nil {
			w.drop(s, errors.New("hard link to a file that could not be read"))
			return false
		}
		s.e.Content, s.e.Size = j.content, j.size
		if err := checkEntrySize(&s.e); err != nil {
			w.drop(s, err)
			return false
		}
	case s.follower:
		s.e.Content, s.e.Size = s.link.content, s.link.size
		if err := checkEntrySize(&s.e); err != nil {
			w.drop(s, err)
			return false
		}
	case s.job != nil:
		j := s.job
		<-j.done
		if j.err != nil {
			w.drop(s, j.err)
			return false
		}
		if j.warn != nil {
			w.skip(s.abs, j.warn)
		}
		_ = w.names.fillStat(&s.e, &j.st) // a second read lstat'ed again
		s.e.Content, s.e.Size = j.content, j.size
		if err := checkEntrySize(&s.e); err != nil {
			w.drop(s, err)
			return false
		}
		w.addExtents(s.e.Content)
		w.size += s.e.Size
	default:
		w.addExtents(s.e.Content)
		w.size += s.e.Size
	}
	w.doneBytes.Add(s.e.Size)
	return true
}

// maxEntrySize is tree.MaxEntrySize; tests lower it.
var maxEntrySize = tree.MaxEntrySize

// checkEntrySize refuses a file whose tree entry would not encode: more
// extents than an entry holds (about 466,000, a file of about 455 GiB at
// 1 MiB chunks). Only that file is left out and listed; without the check
// the encoder would fail the whole backup. Entries far below the limit
// (at most 42 bytes per extent) are not encoded twice.
func checkEntrySize(e *tree.Entry) error {
	xattrs := 0
	for _, x := range e.Xattrs {
		xattrs += len(x.Name) + len(x.Value)
	}
	if len(e.Content) <= maxEntrySize/64 && xattrs <= maxEntrySize/8 {
		return nil
	}
	if n := tree.EncodedSize(e); n > maxEntrySize {
		return fmt.Errorf("too large to back up: its %d extents and metadata encode to %d bytes, more than the %d one tree entry may hold (about 455 GiB of data at 1 MiB chunks)",
			len(e.Content), n, maxEntrySize)
	}
	return nil
}

func (w *backupWalker) addExtents(exts []tree.Extent) {
	for _, x := range exts {
		if !x.Hole {
			w.addRef(x.ID)
		}
	}
}

// addRef records a referenced chunk. Duplicates are squeezed out whenever
// the list doubles, so it stays near the number of distinct chunks.
func (w *backupWalker) addRef(id format.ID) {
	w.refs = append(w.refs, id)
	if len(w.refs) >= w.compactAt {
		w.refs = snapshot.SortRefs(w.refs)
		w.compactAt = max(2*len(w.refs), 1<<16)
	}
}

func (w *backupWalker) sortedRefs() []format.ID { return snapshot.SortRefs(w.refs) }

// emitTree encodes a directory's entries, keeps the encoding for the local
// cache, cuts it with the repository's chunker and offers each piece as a
// tree chunk. It returns the pieces as the directory's subtree extents.
func (w *backupWalker) emitTree(rel string, entries []tree.Entry) ([]tree.Extent, error) {
	enc, err := tree.Encode(entries)
	if err != nil {
		return nil, err
	}
	w.cache.add(rel, enc)
	var exts []tree.Extent
	start := 0
	for _, end := range chunker.Boundaries(enc, w.pipe.r.Chunker, w.pipe.r.Gear) {
		piece := enc[start:end]
		id := w.pipe.r.Sealer.ID(piece)
		exts = append(exts, tree.Extent{ID: id, Length: uint64(len(piece))})
		w.addRef(id)
		if err := w.pipe.offer(seal.TypeTree, id, piece); err != nil {
			return nil, err
		}
		start = end
	}
	return exts, nil
}
