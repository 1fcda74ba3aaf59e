package client

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// bkScanAhead bounds how far the scanner runs ahead of the walker, in
// entries of listings sent but not yet taken (about 300 bytes each). A
// var for tests.
var bkScanAhead int64 = 1 << 15

// bkScanner lists and lstats the tree to back up on its own goroutine, in
// the walker's order (depth first, names sorted, directories in the order
// the walker enters them), and hands one listing per directory to the
// walker. It needs no key and no previous snapshot, so it starts before
// the repository's keys are unwrapped, and afterwards the file system's
// metadata calls run on one core while the walker compares, encodes and
// hashes on another. It stats each entry with fstatat relative to its
// open directory, which spares the kernel a path lookup per file.
//
// The walker must enter exactly the directories the scanner does: every
// entry whose lstat succeeded and says directory. A listing carries its
// directory's path, and the walker checks it.
type bkScanner struct {
	ctx    context.Context
	cancel context.CancelFunc
	plan   *backupPlan
	out    chan *bkListing
	ahead  *bkBudget // entries of listings sent and not yet taken
	done   sync.WaitGroup
}

// bkListing is one directory as the scanner found it.
type bkListing struct {
	abs     string      // "" for a synthetic root (several paths)
	entries []bkScanned // by name, excludes applied
	err     error       // could not be opened or listed: the walk skips it
	// after is the directory's fstat once listed, so the walk records the
	// atime the listing left (where O_NOATIME is not allowed).
	after   unix.Stat_t
	afterOK bool
	cost    int64
}

// bkScanned is one entry of a listing.
type bkScanned struct {
	name string
	abs  string // where it is read from: its graft target, if any
	st   unix.Stat_t
	err  error // lstat failed: the entry is left out and reported
	// Symlinks: the target, or why it could not be read, and the lstat
	// after readlink (which may have moved the atime).
	target    string
	targetErr error
	after     unix.Stat_t
	afterOK   bool
}

func startScan(ctx context.Context, plan *backupPlan) *bkScanner {
	ctx, cancel := context.WithCancel(ctx)
	s := &bkScanner{
		ctx: ctx, cancel: cancel, plan: plan,
		out:   make(chan *bkListing, 64),
		ahead: newBkBudget(bkScanAhead),
	}
	s.done.Go(func() {
		defer close(s.out)
		s.run()
		if h := backupHooks.scanned; h != nil && ctx.Err() == nil {
			h()
		}
	})
	return s
}

// stop ends the scan and waits for its goroutine.
func (s *bkScanner) stop() {
	s.cancel()
	s.done.Wait()
}

var errBkScanOrder = errors.New("internal error: the walk and the scan disagree on the order of directories")

// next returns the listing of the directory abs, which must be the next
// one the scan reached. The listing's share of the look-ahead is returned
// at once: the walker holds the listings of the directories on its path
// (as it always did), which must not stop the scanner from sending the
// next one.
func (s *bkScanner) next(abs string) (*bkListing, error) {
	select {
	case l, ok := <-s.out:
		if !ok {
			if err := s.ctx.Err(); err != nil {
				return nil, err
			}
			return nil, errBkScanOrder
		}
		s.ahead.release(l.cost)
		if l.abs != abs {
			return nil, fmt.Errorf("%w: got %q, want %q", errBkScanOrder, l.abs, abs)
		}
		return l, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

func (s *bkScanner) send(l *bkListing) bool {
	l.cost = int64(len(l.entries)) + 1
	if s.ahead.acquire(s.ctx, l.cost) != nil {
		return false
	}
	select {
	case s.out <- l:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *bkScanner) run() {
	if s.plan.rootDir {
		s.dir(s.plan.roots[0].abs, "")
		return
	}
	root := &bkListing{entries: make([]bkScanned, 0, len(s.plan.roots))}
	for _, r := range s.plan.roots {
		e := bkScanned{name: r.base, abs: r.abs}
		if err := unix.Lstat(r.abs, &e.st); err != nil {
			e.err = err
		}
		s.symlink(&e, -1)
		root.entries = append(root.entries, e)
	}
	slices.SortFunc(root.entries, func(a, b bkScanned) int { return compareNames(a.name, b.name) })
	s.children(root, "")
}

// dir lists the directory abs (at rel below the root), sends its listing
// and goes on into its subdirectories. It returns false when the scan
// was stopped.
func (s *bkScanner) dir(abs, rel string) bool {
	return s.children(s.list(abs, rel), rel)
}

func (s *bkScanner) children(l *bkListing, rel string) bool {
	if !s.send(l) {
		return false
	}
	for i := range l.entries {
		e := &l.entries[i]
		if e.err == nil && e.st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if !s.dir(e.abs, path.Join(rel, e.name)) {
				return false
			}
		}
	}
	return true
}

// list reads the directory abs: its names, sorted, without the excluded
// ones, and each entry's lstat.
func (s *bkScanner) list(abs, rel string) *bkListing {
	l := &bkListing{abs: abs}
	f, err := bkOpenDir(abs)
	if err != nil {
		l.err = err
		return l
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		l.err = unwrapPathErr(err)
		return l
	}
	fd := int(f.Fd())
	l.afterOK = unix.Fstat(fd, &l.after) == nil
	slices.Sort(names) // Go compares strings bytewise, as trees order names
	filter := len(s.plan.excludes) > 0 || len(s.plan.grafts) > 0
	l.entries = make([]bkScanned, 0, len(names))
	for _, name := range names {
		e := bkScanned{name: name}
		graft, grafted := "", false
		if filter {
			r := path.Join(rel, name)
			if s.plan.excluded(r, name) {
				continue
			}
			graft, grafted = s.plan.grafts[r]
		}
		if grafted {
			e.abs = graft
			e.err = unix.Lstat(graft, &e.st)
			s.symlink(&e, -1)
		} else {
			e.abs = filepath.Join(abs, name)
			e.err = unix.Fstatat(fd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW)
			s.symlink(&e, fd)
		}
		l.entries = append(l.entries, e)
	}
	return l
}

// symlink reads the target of a symlink entry, relative to the directory
// dirfd unless it is -1, and lstats it again: readlink may update the
// link's atime (relatime does, once), and the walk records it as it is
// afterwards, so the next backup sees the same value.
func (s *bkScanner) symlink(e *bkScanned, dirfd int) {
	if e.err != nil || e.st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return
	}
	if dirfd < 0 {
		e.target, e.targetErr = bkReadlink(e.abs)
		e.afterOK = e.targetErr == nil && unix.Lstat(e.abs, &e.after) == nil
	} else {
		e.target, e.targetErr = bkReadlinkat(dirfd, e.name)
		e.afterOK = e.targetErr == nil && unix.Fstatat(dirfd, e.name, &e.after, unix.AT_SYMLINK_NOFOLLOW) == nil
	}
	e.afterOK = e.afterOK && e.after.Mode&unix.S_IFMT == unix.S_IFLNK
}
