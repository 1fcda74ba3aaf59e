package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// The local cache keeps the plaintext trees of the last backup of one
// source, so the next backup can compare files without fetching the
// parent's trees. One file per (server, repository, host, source):
//
//	DIR/<hex16 BLAKE3(server NUL repo NUL repoID)>/<hex16 BLAKE3(host NUL kind NUL name)>/trees
//
// Layout of the file (integers big-endian, varints as in SPEC.md §2.1):
//
//	"HFBC" 0x01                 magic and version
//	tree encodings              one per directory, back to back (SPEC.md §6)
//	index                       uvarint n; n × (string rel, uvarint offset, uvarint length)
//	footer, 80 bytes            snapshot ID (32) | index offset u64 | index length u64 |
//	                            BLAKE3-256 of index bytes || footer's first 48 bytes
//
// rel is the directory's path below the snapshot root ("" is the root).
// Each tree carries its own checksum, checked when it is decoded; the
// footer's covers the index. The file is written to a temporary name
// beside it and renamed only after the snapshot committed, and it is used
// only when its snapshot ID is the parent's: any other state (missing,
// damaged, another snapshot) falls back to the parent's trees. It holds
// file names and attributes in clear, so it is created mode 0600 in
// directories of mode 0700.
const (
	bkCacheMagic   = "HFBC\x01"
	bkCacheFooter  = 80
	bkCacheFile    = "trees"
	bkCacheMaxIdx  = 1 << 30
	bkCacheTmpGlob = "trees.tmp-*"
)

// bkTreeCache writes the cache of the backup being made and reads the
// previous one.
type bkTreeCache struct {
	dir   string // "" when disabled
	tmp   *os.File
	w     *bufio.Writer
	off   uint64
	index []byte // encoded index entries
	n     uint64
	err   error // sticky: a cache that cannot be written is skipped
}

func newTreeCache(r *Repository, opts BackupOptions, p *backupPlan) *bkTreeCache {
	c := &bkTreeCache{}
	if opts.NoCache {
		return c
	}
	base := opts.CacheDir
	if base == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return c
		}
		base = filepath.Join(d, "holdfast")
	}
	c.dir = filepath.Join(base,
		bkHash16(r.cfg.Server, r.Repo(), string(r.Master.RepoID[:])),
		bkHash16(p.host, p.source.Kind, p.source.Name))
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		c.dir, c.err = "", err
		return c
	}
	bkCleanTemps(c.dir)
	tmp, err := os.CreateTemp(c.dir, "trees.tmp-")
	if err != nil {
		c.dir, c.err = "", err
		return c
	}
	c.tmp, c.w = tmp, bufio.NewWriterSize(tmp, 1<<20)
	_, c.err = c.w.WriteString(bkCacheMagic)
	c.off = uint64(len(bkCacheMagic))
	return c
}

func bkHash16(parts ...string) string {
	h := blake3.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// bkCleanTemps removes temporary files that a crashed backup left behind
// a day or more ago (a younger one may belong to a backup still running).
func bkCleanTemps(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, bkCacheTmpGlob))
	for _, p := range old {
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			os.Remove(p)
		}
	}
}

// add appends the encoding of the directory at rel.
func (c *bkTreeCache) add(rel string, enc []byte) {
	if c.tmp == nil || c.err != nil {
		return
	}
	if _, c.err = c.w.Write(enc); c.err != nil {
		return
	}
	c.index = binary.AppendUvarint(c.index, uint64(len(rel)))
	c.index = append(c.index, rel...)
	c.index = binary.AppendUvarint(c.index, c.off)
	c.index = binary.AppendUvarint(c.index, uint64(len(enc)))
	c.off += uint64(len(enc))
	c.n++
}

// commit finishes the cache for snapshot id and moves it into place, and
// returns why it could not (nil also when caching is off). A failure
// leaves the previous cache (or none) and fails nothing else: the next
// backup falls back to the parent's trees.
func (c *bkTreeCache) commit(id format.ID) error {
	if c.tmp == nil || c.err != nil {
		c.discard()
		return c.err
	}
	idx := binary.AppendUvarint(nil, c.n)
	idx = append(idx, c.index...)
	footer := make([]byte, 0, bkCacheFooter)
	footer = append(footer, id[:]...)
	footer = binary.BigEndian.AppendUint64(footer, c.off)
	footer = binary.BigEndian.AppendUint64(footer, uint64(len(idx)))
	sum := blake3.Sum256(append(idx[:len(idx):len(idx)], footer...))
	footer = append(footer, sum[:]...)
	_, err := c.w.Write(idx)
	if err == nil {
		_, err = c.w.Write(footer)
	}
	if err == nil {
		err = c.w.Flush()
	}
	if err == nil {
		err = c.tmp.Sync()
	}
	if cerr := c.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(c.tmp.Name(), filepath.Join(c.dir, bkCacheFile))
	}
	if err != nil {
		os.Remove(c.tmp.Name())
	}
	c.tmp = nil
	return err
}

// discard drops the cache being written.
func (c *bkTreeCache) discard() {
	if c.tmp == nil {
		return
	}
	c.tmp.Close()
	os.Remove(c.tmp.Name())
	c.tmp = nil
}

// previous returns where the walk finds the previous state of each
// directory: this cache if it describes parent, else the parent's trees,
// else nothing. The string names the choice for the summary.
func (c *bkTreeCache) previous(ctx context.Context, r *Repository, parent *Snapshot) (bkPrev, string) {
	if parent == nil {
		return bkPrevNone{}, "none"
	}
	if c.dir != "" {
		if p, err := bkOpenCache(filepath.Join(c.dir, bkCacheFile), parent.ID); err == nil {
			return p, "cache"
		}
	}
	return &bkPrevParent{r: r, root: parent.Header.Root}, "parent"
}

// bkPrevCache reads directories from a cache file through its index.
type bkPrevCache struct {
	f    *os.File
	dirs map[string][2]uint64 // rel → offset, length
}

var errBkCache = errors.New("cache: damaged or of another snapshot")

func bkOpenCache(name string, want format.ID) (*bkPrevCache, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	p, err := bkReadCacheIndex(f, want)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

func bkReadCacheIndex(f *os.File, want format.ID) (*bkPrevCache, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := uint64(fi.Size())
	if size < uint64(len(bkCacheMagic))+bkCacheFooter {
		return nil, errBkCache
	}
	head := make([]byte, len(bkCacheMagic))
	footer := make([]byte, bkCacheFooter)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, err
	}
	if _, err := f.ReadAt(footer, int64(size-bkCacheFooter)); err != nil {
		return nil, err
	}
	if string(head) != bkCacheMagic || !bytes.Equal(footer[:32], want[:]) {
		return nil, errBkCache
	}
	off, n := binary.BigEndian.Uint64(footer[32:]), binary.BigEndian.Uint64(footer[40:])
	if n > bkCacheMaxIdx || off < uint64(len(bkCacheMagic)) || off+n != size-bkCacheFooter {
		return nil, errBkCache
	}
	idx := make([]byte, n, n+48)
	if _, err := f.ReadAt(idx, int64(off)); err != nil {
		return nil, err
	}
	if sum := blake3.Sum256(append(idx, footer[:48]...)); !bytes.Equal(sum[:], footer[48:]) {
		return nil, errBkCache
	}
	rd := bytes.NewReader(idx)
	count, err := binary.ReadUvarint(rd)
	if err != nil || count > n {
		return nil, errBkCache
	}
	p := &bkPrevCache{f: f, dirs: make(map[string][2]uint64, count)}
	for range count {
		l, err := binary.ReadUvarint(rd)
		if err != nil || l > uint64(rd.Len()) {
			return nil, errBkCache
		}
		rel := make([]byte, l)
		io.ReadFull(rd, rel)
		o, err1 := binary.ReadUvarint(rd)
		ln, err2 := binary.ReadUvarint(rd)
		if err1 != nil || err2 != nil || o < uint64(len(bkCacheMagic)) || o+ln > off || o+ln < o {
			return nil, errBkCache
		}
		p.dirs[string(rel)] = [2]uint64{o, ln}
	}
	if rd.Len() != 0 {
		return nil, errBkCache
	}
	return p, nil
}

func (p *bkPrevCache) dir(_ context.Context, rel string, _ *tree.Entry) (map[string]*tree.Entry, error) {
	span, ok := p.dirs[rel]
	if !ok {
		return nil, nil
	}
	buf := make([]byte, span[1])
	if _, err := p.f.ReadAt(buf, int64(span[0])); err != nil {
		return nil, err
	}
	entries, err := tree.Decode(buf)
	if err != nil {
		return nil, err
	}
	return bkByName(entries), nil
}

func (p *bkPrevCache) close() { p.f.Close() }
