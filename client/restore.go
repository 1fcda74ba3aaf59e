package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// RestoreOptions say where and what to restore.
type RestoreOptions struct {
	// Target is the directory to restore into; it is created if missing.
	// Nothing is ever written outside it, whatever the snapshot holds.
	Target string
	// Include limits the restore to these paths of the snapshot (a
	// subtree or a single file each), restored at the same path below
	// Target with their parent directories. Empty restores everything.
	Include []string
	// Progress, if set, is updated while the restore runs.
	Progress *Progress
	// Warn, if set, is told about each thing restore skipped (device
	// nodes it may not create, xattrs the file system refuses...), one
	// call at a time. The first 100 warnings are in RestoreResult too.
	Warn func(msg string)
	// Writers is how many files are written at once (default 4).
	Writers int
	// ReadAhead bounds the chunk plaintext in flight (DefaultReadAhead).
	ReadAhead int64

	keepCache bool // tests: leave the written pages in the page cache
}

// Progress are live counters a caller may poll while an operation runs.
type Progress struct {
	Files atomic.Int64 // entries done (restored, skipped, dumped)
	Bytes atomic.Int64 // content bytes written
}

// RestoreResult counts what a restore did.
type RestoreResult struct {
	Files        int64 // regular files written (fully or partly)
	FilesSkipped int64 // regular files already correct in the target
	FilesResumed int64 // files whose correct beginning was kept (part of Files)
	Dirs         int64
	Symlinks     int64
	Hardlinks    int64 // links to a file restored earlier in this run
	Specials     int64 // FIFOs and device nodes
	Bytes        int64 // content bytes written (holes excluded)
	Chunks       int64 // chunks fetched from the server
	ChunkBytes   int64 // envelope bytes fetched
	Warnings     []string
}

// maxWarnings bounds the warnings a result keeps (the count goes on).
const maxWarnings = 100

// Restore writes snap (or the Include paths of it) into opts.Target.
//
// Regular files are rewritten byte for byte, holes left sparse, several
// files at once while chunks stream in order with read-ahead; then
// directories, symlinks, hardlinks, FIFOs and (when permitted) device
// nodes. Metadata follows content: owner (only as root), xattrs, mode,
// times; directories last, deepest first, so their times stick.
//
// A rerun into the same target skips regular files whose content already
// matches (the chunk IDs of the file's bytes equal the snapshot's) and
// keeps the correct beginning of a partly written file, fetching only the
// rest. SPEC.md §12.7 has the algorithm, the safety rules and the resume
// rule.
func (r *Repository) Restore(ctx context.Context, snap Snapshot, opts RestoreOptions) (*RestoreResult, error) {
	if opts.Target == "" {
		return nil, errors.New("restore: no target directory")
	}
	filter, err := newIncludeFilter(opts.Include)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(opts.Target, 0o700); err != nil {
		return nil, fmt.Errorf("restore: target: %w", err)
	}
	top, err := os.OpenRoot(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("restore: target: %w", err)
	}
	defer top.Close()
	if opts.Writers <= 0 {
		opts.Writers = 4
	}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs := &restorer{
		r: r, ctx: ctx, cancel: cancel, opts: opts, filter: filter,
		top:    top,
		asRoot: os.Geteuid() == 0,
		self:   rsOwner{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()), known: true},
		groups: map[uint64]rsLinkHead{},
		jobs:   make(chan *rsJob, 256),
	}
	rs.reader = r.NewChunkReader(ctx, ReadOptions{MaxBytes: opts.ReadAhead})
	defer rs.reader.Close()
	rs.trees = r.newTreePrefetcher(ctx)

	rs.drop = newDropper(rs.fail, opts.keepCache)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rs.dispatch(); rs.drop.close() }()

	root := &rsDir{root: top, rel: "", keep: true, fresh: emptyDir(opts.Target)}
	if fi, err := top.Stat("."); err == nil {
		root.owner = ownerOf(fi)
	}
	root.refs.Store(1)
	werr := rs.restoreDir(root, snap.Header.Root, "", filter.all(), 0)
	rs.trees.close()
	root.unref()
	close(rs.jobs)
	rs.reader.CloseSend()
	if werr != nil {
		rs.fail(werr)
	}
	wg.Wait()
	if err := rs.firstErr(); err != nil {
		return rs.result(), fmt.Errorf("restore: %w", err)
	}
	if err := filter.unmatched(); err != nil {
		return rs.result(), fmt.Errorf("restore: %w", err)
	}
	if err := rs.linkAll(); err != nil {
		return rs.result(), fmt.Errorf("restore: %w", err)
	}
	if err := rs.finishDirs(); err != nil {
		return rs.result(), fmt.Errorf("restore: %w", err)
	}
	return rs.result(), nil
}

// restorer is the state of one Restore.
type restorer struct {
	r      *Repository
	ctx    context.Context
	cancel context.CancelFunc
	opts   RestoreOptions
	filter *includeFilter
	top    *os.Root
	asRoot bool
	self   rsOwner // who owns what this process creates (in a directory of its group)
	reader *ChunkReader
	drop   *dropper // closes the files the writers finish
	trees  *treePrefetcher
	jobs   chan *rsJob // files whose chunks are queued, in order

	// Walker-only state.
	groups  map[uint64]rsLinkHead // hardlink group → first path restored
	links   []rsLink              // later members, linked at the end
	dirs    []rsDirMeta           // directories in pre-order, for metadata
	seq     int64
	scratch []byte // resume checks read existing extents into it

	mu       sync.Mutex
	err      error
	res      RestoreResult
	warnings int
}

type rsLinkHead struct {
	rel string
	typ tree.Type
}

type rsLink struct{ from, to string }

// rsDirMeta is what a directory's metadata needs, kept until the end.
type rsDirMeta struct {
	rel   string
	e     *tree.Entry // Subtree dropped
	owner rsOwner     // its owner when restore opened it
}

func (rs *restorer) fail(err error) {
	rs.mu.Lock()
	if rs.err == nil {
		rs.err = err
	}
	rs.mu.Unlock()
	rs.cancel()
}

func (rs *restorer) firstErr() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.err
}

func (rs *restorer) count(f func(*RestoreResult)) {
	rs.mu.Lock()
	f(&rs.res)
	rs.mu.Unlock()
}

func (rs *restorer) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.warnings++
	if len(rs.res.Warnings) < maxWarnings {
		rs.res.Warnings = append(rs.res.Warnings, msg)
	}
	if rs.opts.Warn != nil {
		rs.opts.Warn(msg) // one at a time
	}
}

func (rs *restorer) result() *RestoreResult {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	res := rs.res
	res.Warnings = append([]string(nil), rs.res.Warnings...)
	if extra := rs.warnings - len(res.Warnings); extra > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("... and %d more warnings", extra))
	}
	res.Chunks, res.ChunkBytes = rs.reader.Fetched()
	return &res
}

// restoreDir restores the entries of the directory exts, open as d, whose
// path is rel. inside says whether the directory is inside an included
// path (or everything is restored); otherwise only entries on the way to
// an include are.
func (rs *restorer) restoreDir(d *rsDir, exts []tree.Extent, rel string, inside bool, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("/%s: directories nest deeper than %d levels (a cycle in the trees?)", rel, maxTreeDepth)
	}
	for e, err := range rs.listing(exts) {
		if err != nil {
			return dirError(rel, err)
		}
		if err := rs.ctx.Err(); err != nil {
			return err
		}
		p := joinPath(rel, e.Name)
		in := inside
		if !rs.filter.all() {
			// Matched even inside an include, so that an include below
			// another one is found (or reported missing).
			m, onPath := rs.filter.match(p)
			if in = in || m; !in && !(onPath && e.Type == tree.Dir) {
				continue
			}
		}
		if err := rs.restoreEntry(d, e, p, in, depth); err != nil {
			return err
		}
	}
	return nil
}

func (rs *restorer) restoreEntry(d *rsDir, e *tree.Entry, p string, inside bool, depth int) error {
	switch e.Type {
	case tree.Dir:
		child, err := rs.makeDir(d, e.Name, p)
		if err != nil {
			return err
		}
		meta := *e
		meta.Subtree = nil
		rs.dirs = append(rs.dirs, rsDirMeta{rel: p, e: &meta, owner: child.owner})
		rs.count(func(r *RestoreResult) { r.Dirs++ })
		err = rs.restoreDir(child, e.Subtree, p, inside, depth+1)
		child.unref()
		return err
	}
	if e.HardlinkGroup != 0 {
		head, seen := rs.groups[e.HardlinkGroup]
		if seen {
			if head.typ != e.Type {
				return fmt.Errorf("/%s: hardlink group %d joins a %s and a %s: refusing a tampered snapshot", p, e.HardlinkGroup, head.typ, e.Type)
			}
			rs.links = append(rs.links, rsLink{from: head.rel, to: p})
			return nil
		}
		rs.groups[e.HardlinkGroup] = rsLinkHead{rel: p, typ: e.Type}
	}
	switch e.Type {
	case tree.File:
		return rs.startFile(d, e, p)
	case tree.Symlink:
		return rs.makeSymlink(d, e, p)
	case tree.Socket:
		rs.warn("/%s: socket not restored", p)
		return nil
	default:
		return rs.makeSpecial(d, e, p)
	}
}

// emptyDir reports whether dir has no entries (a fresh target).
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err != nil && len(names) == 0
}

// includeFilter selects the paths given with --include.
type includeFilter struct {
	paths   []string // cleaned, relative, no trailing slash; nil = all
	matched []bool
}

func newIncludeFilter(include []string) (*includeFilter, error) {
	f := &includeFilter{}
	for _, inc := range include {
		names, err := splitPath(inc)
		if err != nil {
			return nil, fmt.Errorf("include: %w", err)
		}
		if len(names) == 0 {
			return &includeFilter{}, nil // the root: everything
		}
		f.paths = append(f.paths, strings.Join(names, "/"))
	}
	f.matched = make([]bool, len(f.paths))
	return f, nil
}

// all reports whether everything is included.
func (f *includeFilter) all() bool { return len(f.paths) == 0 }

// match reports whether p is an included path (or below one), and whether
// it is a directory on the way to one.
func (f *includeFilter) match(p string) (inside, onPath bool) {
	for i, inc := range f.paths {
		switch {
		case p == inc:
			f.matched[i] = true
			inside = true
		case strings.HasPrefix(p, inc+"/"):
			inside = true
		case strings.HasPrefix(inc, p+"/"):
			onPath = true
		}
	}
	return inside, onPath
}

func (f *includeFilter) unmatched() error {
	var missing []string
	for i, ok := range f.matched {
		if !ok {
			missing = append(missing, "/"+f.paths[i])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("include %s: %w", strings.Join(missing, ", "), ErrNotInSnapshot)
	}
	return nil
}
