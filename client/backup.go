package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// ErrInvalidOptions marks a backup request that cannot be carried out as
// asked (duplicate base names, a bad exclude pattern, an empty tag): the
// CLI reports it as a usage error.
var ErrInvalidOptions = errors.New("invalid backup request")

// BackupOptions say what to back up and how.
type BackupOptions struct {
	// Paths are the files or directories to back up (at least one). One
	// directory becomes the snapshot's root; anything else (a single file,
	// several paths) becomes a root directory listing each path's base
	// name, so base names must be unique.
	Paths []string
	// Source, when its Kind is set, is recorded instead of the default
	// {kind "path", name: the absolute paths}: Docker and Kubernetes
	// backups name what they back up (it also picks the parent and the
	// local cache). Its labels are stored sorted by key.
	Source   snapshot.Source
	Tags     []string // stored sorted and unique
	Host     string   // "" means os.Hostname
	Excludes []string // globs (path.Match) against the path below the root and against the base name
	// Parent names the snapshot to compare with (ID, prefix or "latest");
	// "" means the newest snapshot of the same host and source.
	Parent string
	// CacheDir holds the local metadata cache; "" means
	// os.UserCacheDir()/holdfast. NoCache neither reads nor writes it.
	CacheDir string
	NoCache  bool
	// Workers read, chunk and seal files in parallel; 0 means
	// min(GOMAXPROCS, 8).
	Workers int
	// Progress, when set, is called about every ProgressEvery (default
	// 250 ms) from another goroutine, and once more at the end.
	Progress      func(BackupProgress)
	ProgressEvery time.Duration
	// Grafts back up another file or directory in place of an entry below
	// the single directory in Paths: the key is the entry's slash path
	// below that directory (a placeholder that must exist there), the
	// value the absolute path whose lstat and content or listing replace
	// it. The header's paths are then the graft targets in key order.
	// Docker containers use it to gather their mounts (SPEC.md §12.7.2).
	Grafts map[string]string
	// ReadDone, when set, is called once on the backup's goroutine when
	// the walk is over: every file's content has been read (or left out),
	// and what remains is sealing and uploading the last chunks and the
	// commit. --pause unpauses the containers there (SPEC.md §12.7.2).
	// It is not called when the backup fails before the walk.
	ReadDone func()
	// Compression is how new chunks are compressed where it pays: "zstd"
	// (the default when empty: smallest), "s2" (about three times less
	// CPU, a few percent larger) or "none". Chunks the repository already
	// holds are not sealed again, whatever they were compressed with.
	Compression string
}

// BackupProgress is a running count for a progress display. TotalBytes
// and TotalFiles come from a concurrent scan and grow until ScanDone.
type BackupProgress struct {
	Files, Dirs   uint64 // entries finished
	DoneBytes     uint64 // logical bytes of finished files (read or unchanged)
	BytesRead     uint64
	BytesUploaded uint64
	TotalFiles    uint64
	TotalBytes    uint64
	ScanDone      bool
	Elapsed       time.Duration
}

// FileError is a file or directory that could not be backed up (or only
// inconsistently, see Err).
type FileError struct {
	Path string `json:"path"`
	Err  error  `json:"-"`
}

func (e FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// BackupSummary is what a committed backup did. Its JSON form is the
// fields of CONTRACT.md's `backup --json` summary line.
type BackupSummary struct {
	SnapshotID      format.ID     `json:"snapshot_id"`
	Parent          format.ID     `json:"-"`
	FilesNew        uint64        `json:"files_new"`
	FilesChanged    uint64        `json:"files_changed"`
	FilesUnmodified uint64        `json:"files_unmodified"`
	Dirs            uint64        `json:"dirs"`
	BytesRead       uint64        `json:"bytes_read"`
	BytesAdded      uint64        `json:"bytes_added"`
	BytesUploaded   uint64        `json:"bytes_uploaded"`
	Size            uint64        `json:"size"`
	Duration        time.Duration `json:"-"`
	Errors          []FileError   `json:"-"`
	// Previous says where unchanged files were recognised from: "cache",
	// "parent" (the parent's trees, fetched from the server) or "none".
	Previous string `json:"-"`
	// CacheError says why the local cache could not be written (a full
	// or unwritable cache directory). The snapshot is committed all the
	// same; the next backup reads the parent's trees from the server.
	CacheError error `json:"-"`
}

// backupPlan is a validated BackupOptions.
type backupPlan struct {
	roots    []backupRoot // in the order given
	rootDir  bool         // one directory: it is the root tree itself
	host     string
	source   snapshot.Source
	tags     []string
	excludes []string
	grafts   map[string]string // see BackupOptions.Grafts
	compress seal.Compression  // the writer's codec
}

type backupRoot struct {
	abs  string // absolute, cleaned
	base string // name in a synthetic root
}

func planBackup(opts BackupOptions) (*backupPlan, error) {
	if len(opts.Paths) == 0 {
		return nil, fmt.Errorf("%w: no path to back up", ErrInvalidOptions)
	}
	p := &backupPlan{host: opts.Host, compress: seal.Zstd}
	if opts.Compression != "" {
		c, err := seal.ParseCompression(opts.Compression)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
		p.compress = c
	}
	if p.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name: %w (pass --host)", err)
		}
		p.host = h
	}
	seen := map[string]string{}
	for _, raw := range opts.Paths {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", raw, err)
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", raw, errors.Unwrap(err))
		}
		base := filepath.Base(abs)
		if len(opts.Paths) == 1 && fi.IsDir() {
			p.rootDir = true
		} else if tree.CheckName(base) != nil {
			return nil, fmt.Errorf("%w: path %q has no usable base name; back it up on its own", ErrInvalidOptions, raw)
		}
		if other, dup := seen[base]; dup {
			return nil, fmt.Errorf("%w: paths %q and %q have the same base name %q; back them up separately", ErrInvalidOptions, other, raw, base)
		}
		seen[base] = raw
		p.roots = append(p.roots, backupRoot{abs: abs, base: base})
	}
	names := make([]string, len(p.roots))
	for i, r := range p.roots {
		names[i] = r.abs
	}
	p.source = snapshot.Source{Kind: snapshot.KindPath, Name: strings.Join(names, " ")}
	if len(p.source.Name) > format.MaxNameLen {
		return nil, fmt.Errorf("%w: the paths add up to more than %d bytes", ErrInvalidOptions, format.MaxNameLen)
	}
	if opts.Source.Kind != "" {
		src, err := bkCheckSource(opts.Source)
		if err != nil {
			return nil, err
		}
		p.source = src
	}
	for _, t := range opts.Tags {
		if t == "" || len(t) > format.MaxNameLen {
			return nil, fmt.Errorf("%w: tag %q: want 1 to %d bytes", ErrInvalidOptions, t, format.MaxNameLen)
		}
	}
	p.tags = slices.Compact(slices.Sorted(slices.Values(opts.Tags)))
	for _, g := range opts.Excludes {
		if _, err := filepath.Match(g, ""); err != nil {
			return nil, fmt.Errorf("%w: exclude %q: %v", ErrInvalidOptions, g, err)
		}
	}
	p.excludes = opts.Excludes
	if err := planSource(p, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// planSource applies BackupOptions.Grafts (Source is applied, checked, by
// the caller).
func planSource(p *backupPlan, opts BackupOptions) error {
	if len(opts.Grafts) == 0 {
		return nil
	}
	if !p.rootDir {
		return fmt.Errorf("%w: grafts need exactly one directory to back up", ErrInvalidOptions)
	}
	p.grafts = make(map[string]string, len(opts.Grafts))
	for rel, abs := range opts.Grafts {
		if rel == "" || path.Clean(rel) != rel || path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%w: graft %q: want a clean relative path", ErrInvalidOptions, rel)
		}
		if !filepath.IsAbs(abs) {
			return fmt.Errorf("%w: graft %q: target %q is not absolute", ErrInvalidOptions, rel, abs)
		}
		p.grafts[rel] = filepath.Clean(abs)
	}
	return nil
}

// childPath is where the entry name of the directory abs (at rel below
// the root) is read from: its graft target, if any.
func (p *backupPlan) childPath(abs, rel, name string) string {
	if g, ok := p.grafts[path.Join(rel, name)]; ok {
		return g
	}
	return filepath.Join(abs, name)
}

// Backup backs up opts.Paths and commits one snapshot. Files that cannot be
// read are left out and listed in the summary's Errors; the snapshot is
// still committed. Any other failure aborts the upload session and commits
// nothing. See SPEC.md §12.7 for the pipeline, its memory bound and the
// local cache.
func (r *Repository) Backup(ctx context.Context, opts BackupOptions) (*BackupSummary, error) {
	return backup(ctx, r.Conn, func() (*Repository, error) { return r, nil }, opts)
}

// Backup is [Repository.Backup] on a repository whose keys are still being
// unwrapped: what needs no key (listing the snapshots, the upload session,
// pinning the parent's chunks, listing and lstat'ing the files) runs
// meanwhile, and it waits for the keys before it compares a file with the
// parent or hashes a chunk. A wrong password is returned as from Open,
// before anything is uploaded or committed; it takes precedence over
// errors of the work done meanwhile.
func (u *Unlocking) Backup(ctx context.Context, opts BackupOptions) (*BackupSummary, error) {
	return backup(ctx, u.Conn, u.Wait, opts)
}

func backup(ctx context.Context, c *Conn, unlock func() (*Repository, error), opts BackupOptions) (*BackupSummary, error) {
	start := time.Now()
	// before reports an error of the work done before the keys: the
	// unwrap's, if that failed too.
	before := func(err error) error {
		if _, kerr := unlock(); kerr != nil {
			return kerr
		}
		return err
	}
	plan, err := planBackup(opts)
	if err != nil {
		return nil, before(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scan := startScan(ctx, plan)
	defer scan.stop()
	listed, err := c.listRawSnapshots(ctx)
	if err != nil {
		return nil, before(err)
	}
	sess, err := c.beginSession(ctx)
	if err != nil {
		return nil, before(err)
	}
	defer sess.end()
	// Pin the parent the headers name while the keys are unwrapped; the
	// choice is made again from verified headers below.
	pin := sess.startPin(ctx, bkPickUnverified(listed, plan, opts.Parent))
	defer func() {
		cancel() // a pin still running stops before the session ends
		pin.wait()
	}()

	r, err := unlock()
	if err != nil {
		return nil, err
	}
	all, err := r.verifySnapshots(listed, func(err error) error { return err })
	if err != nil {
		return nil, err
	}
	parent, err := backupParent(all, plan, opts.Parent)
	if err != nil {
		return nil, err
	}
	known, err := pin.result(parent)
	if err != nil {
		return nil, err
	}

	sealer, err := r.Sealer.Compressing(plan.compress)
	if err != nil {
		return nil, err
	}
	pipe := newBackupPipe(ctx, r, sealer, sess, opts.Workers)
	defer pipe.stop()
	pipe.known = newIDSet(known)
	cache := newTreeCache(r, opts, plan)
	prev, from := cache.previous(ctx, r, parent)
	defer prev.close()

	w := newBackupWalker(pipe, plan, scan, prev, cache)
	stopProgress := w.startProgress(opts, start)
	rootExts, werr := w.run()
	if opts.ReadDone != nil {
		opts.ReadDone()
	}
	perr := pipe.finish()
	stopProgress()
	if err := bkFirstError(werr, perr); err != nil {
		cache.discard()
		return nil, err
	}

	h := &snapshot.Header{
		Time:          start.UnixNano(),
		Host:          plan.host,
		Source:        plan.source,
		Tags:          plan.tags,
		Paths:         bkRootPaths(plan),
		Root:          rootExts,
		Size:          w.size,
		Files:         w.files,
		Dirs:          w.dirs,
		BytesAdded:    pipe.bytesAdded.Load(),
		ClientVersion: format.Version,
	}
	if parent != nil {
		h.Parent = parent.ID
	}
	id, err := sess.commit(ctx, r.Keys.MAC, h, w.sortedRefs())
	if err != nil {
		cache.discard()
		return nil, err
	}
	cacheErr := cache.commit(id)
	return &BackupSummary{
		CacheError:      cacheErr,
		SnapshotID:      id,
		Parent:          h.Parent,
		FilesNew:        w.filesNew,
		FilesChanged:    w.filesChanged,
		FilesUnmodified: w.filesUnmodified,
		Dirs:            w.dirs,
		BytesRead:       pipe.bytesRead.Load(),
		BytesAdded:      pipe.bytesAdded.Load(),
		BytesUploaded:   pipe.bytesUploaded.Load(),
		Size:            w.size,
		Duration:        time.Since(start),
		Errors:          w.errs,
		Previous:        from,
	}, nil
}

// bkCheckSource validates a caller-given source (SPEC.md §7.1) before
// anything is read, so a bad one is a usage error, not a refused commit.
func bkCheckSource(src snapshot.Source) (snapshot.Source, error) {
	bad := func(what string, args ...any) (snapshot.Source, error) {
		return src, fmt.Errorf("%w: source %s", ErrInvalidOptions, fmt.Sprintf(what, args...))
	}
	if len(src.Kind) > snapshot.MaxKindLen || strings.Trim(src.Kind, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return bad("kind %q: want 1 to %d bytes of a-z, 0-9 and -", src.Kind, snapshot.MaxKindLen)
	}
	if len(src.Name) > format.MaxNameLen {
		return bad("name of %d bytes exceeds %d", len(src.Name), format.MaxNameLen)
	}
	src.Labels = slices.SortedFunc(slices.Values(src.Labels), func(a, b snapshot.Label) int { return strings.Compare(a.Key, b.Key) })
	for i, l := range src.Labels {
		if l.Key == "" || len(l.Key) > format.MaxNameLen || len(l.Value) > format.MaxNameLen {
			return bad("label %q: key must be 1 to %d bytes, value at most %d", l.Key, format.MaxNameLen, format.MaxNameLen)
		}
		if i > 0 && src.Labels[i-1].Key == l.Key {
			return bad("label %q given twice", l.Key)
		}
	}
	return src, nil
}

func bkRootPaths(p *backupPlan) []string {
	if len(p.grafts) > 0 {
		keys := slices.Sorted(maps.Keys(p.grafts))
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = p.grafts[k]
		}
		return out
	}
	out := make([]string, len(p.roots))
	for i, r := range p.roots {
		out[i] = r.abs
	}
	return out
}

// backupParent picks the parent among the verified snapshots: the one
// named by ref, or else the newest one of the same host and source.
func backupParent(all []Snapshot, p *backupPlan, ref string) (*Snapshot, error) {
	if ref != "" {
		s, err := resolveIn(all, ref)
		if err != nil {
			return nil, fmt.Errorf("parent: %w", err)
		}
		return &s, nil
	}
	for i := len(all) - 1; i >= 0; i-- {
		h := all[i].Header
		if h.Host == p.host && h.Source.Kind == p.source.Kind && h.Source.Name == p.source.Name {
			return &all[i], nil
		}
	}
	return nil, nil
}

// bkPickUnverified is backupParent over headers whose MACs are not yet
// verified (those that do not decode are passed over): the snapshot to pin
// while the keys are unwrapped, or nil.
func bkPickUnverified(listed []*holdfastv1.Snapshot, p *backupPlan, ref string) *Snapshot {
	all := make([]Snapshot, 0, len(listed))
	for _, s := range listed {
		if snap, err := decodeSnapshot(s); err == nil {
			all = append(all, snap)
		}
	}
	sortOldestFirst(all)
	parent, _ := backupParent(all, p, ref)
	return parent
}

func bkFirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
