package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// RebuildReport counts what RebuildIndex recovered from the stores.
type RebuildReport struct {
	Repositories int `json:"repositories"`
	Packs        int `json:"packs"`
	PacksLost    int `json:"packs_lost"`
	Chunks       int `json:"chunks"`
	Snapshots    int `json:"snapshots"`
	KeyFiles     int `json:"key_files"`
	Locks        int `json:"locks"`
	Tokens       int `json:"tokens_kept"`
	// Incomplete counts snapshots whose reference list names chunks that no
	// readable pack holds.
	Incomplete int `json:"snapshots_incomplete"`
}

// RebuildIndex recreates DATA/index from the stores alone: repository
// records, packs (placement from the shard listing, chunk entries from each
// pack's verified trailer), snapshots, locks and key files. The new index is built
// beside the old one and swapped in only when complete; hashed tokens, which
// exist only in the index, are carried over from the old index when it can
// be opened. The server must not be running.
func RebuildIndex(ctx context.Context, cfg Config) (RebuildReport, error) {
	var rep RebuildReport
	final := filepath.Join(cfg.DataDir, "index")
	building := filepath.Join(cfg.DataDir, "index.rebuild")
	if err := os.RemoveAll(building); err != nil {
		return rep, err
	}
	tokens, err := salvageTokens(final, cfg.Index)
	if err != nil {
		return rep, err
	}
	r, err := openAt(ctx, cfg, building)
	if err != nil {
		return rep, err
	}
	if err := r.rebuild(ctx, &rep); err != nil {
		r.idx.Close()
		return rep, err
	}
	b := r.idx.NewBatch()
	for h, t := range tokens {
		b.PutToken(h, t)
		rep.Tokens++
	}
	if err := b.Commit(true); err != nil {
		r.idx.Close()
		return rep, err
	}
	if err := r.idx.Close(); err != nil {
		return rep, err
	}
	old := final + ".old-" + time.Now().UTC().Format("20060102T150405")
	if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("move old index aside: %w", errors.Unwrap(err))
	}
	if err := os.Rename(building, final); err != nil {
		return rep, fmt.Errorf("install rebuilt index: %w", errors.Unwrap(err))
	}
	if err := syncDir(cfg.DataDir); err != nil {
		return rep, err
	}
	return rep, os.RemoveAll(old)
}

// salvageTokens reads the hashed tokens of the old index, if it opens.
func salvageTokens(dir string, opts index.Options) (map[indexkey.TokenHash]indexkey.TokenRecord, error) {
	tokens := map[indexkey.TokenHash]indexkey.TokenRecord{}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return tokens, nil
	}
	old, err := index.Open(dir, opts)
	if errors.Is(err, index.ErrLocked) {
		return nil, err
	}
	if err != nil {
		return tokens, nil // a broken old index is why we rebuild
	}
	defer old.Close()
	_ = old.Tokens(func(h indexkey.TokenHash, t indexkey.TokenRecord) error {
		tokens[h] = t
		return nil
	})
	return tokens, nil
}

// found is what the store listing says about one repository.
type found struct {
	packs     map[format.ID]map[int]uint16 // pack → shard index → store
	headers   map[format.ID][]uint16
	refs      map[format.ID][]uint16
	keyFiles  map[format.ID][]uint16
	locks     map[format.ID][]uint16 // snapshot ID → stores holding its lock object
	hasRecord []uint16
	modTime   map[format.ID]time.Time
}

func newFound() *found {
	return &found{packs: map[format.ID]map[int]uint16{}, headers: map[format.ID][]uint16{},
		refs: map[format.ID][]uint16{}, keyFiles: map[format.ID][]uint16{}, locks: map[format.ID][]uint16{}, modTime: map[format.ID]time.Time{}}
}

func (r *Repo) rebuild(ctx context.Context, rep *RebuildReport) error {
	repos := map[string]*found{}
	for _, sid := range r.order {
		err := r.stores[sid].Backend.List(ctx, "", func(info backend.Info) error {
			r.classify(sid, info, repos)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list store %d: %w", sid, err)
		}
	}
	names := make([]string, 0, len(repos))
	for name := range repos {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := r.rebuildRepository(ctx, name, repos[name], rep); err != nil {
			return fmt.Errorf("repository %s: %w", name, err)
		}
	}
	return nil
}

// classify files one listed object under its repository.
func (r *Repo) classify(sid uint16, info backend.Info, repos map[string]*found) {
	name := string(info.Name)
	repo, rest, ok := strings.Cut(name, "/")
	if !ok || !indexkey.ValidRepoName(repo) {
		return
	}
	f := repos[repo]
	if f == nil {
		f = newFound()
		repos[repo] = f
	}
	switch {
	case rest == "repo":
		f.hasRecord = append(f.hasRecord, sid)
	case strings.HasPrefix(rest, "packs/"):
		if _, packID, idx, err := shard.ParseObjectName(name); err == nil {
			if f.packs[packID] == nil {
				f.packs[packID] = map[int]uint16{}
			}
			f.packs[packID][idx] = sid
		}
	case strings.HasPrefix(rest, "snapshots/"):
		base := strings.TrimPrefix(rest, "snapshots/")
		if id, err := format.ParseID(strings.TrimSuffix(base, ".hdr")); err == nil && strings.HasSuffix(base, ".hdr") {
			f.headers[id] = append(f.headers[id], sid)
			f.modTime[id] = info.ModTime
		} else if id, err := format.ParseID(strings.TrimSuffix(base, ".refs")); err == nil && strings.HasSuffix(base, ".refs") {
			f.refs[id] = append(f.refs[id], sid)
		}
	case strings.HasPrefix(rest, "locks/"):
		if id, err := format.ParseID(strings.TrimPrefix(rest, "locks/")); err == nil {
			f.locks[id] = append(f.locks[id], sid)
		}
	case strings.HasPrefix(rest, "keys/"):
		if id, err := format.ParseID(strings.TrimPrefix(rest, "keys/")); err == nil {
			f.keyFiles[id] = append(f.keyFiles[id], sid)
		}
	}
}

func (r *Repo) rebuildRepository(ctx context.Context, name string, f *found, rep *RebuildReport) error {
	if len(f.hasRecord) == 0 {
		r.log.Warn("objects of a repository without a record; skipped", "repo", name)
		return nil
	}
	recBytes, err := r.readAnyCopy(ctx, repoObject(name), f.hasRecord, nil)
	if err != nil {
		return err
	}
	rec, err := indexkey.DecodeRepoRecord(recBytes)
	if err != nil {
		return fmt.Errorf("repository record: %w", err)
	}
	b := r.idx.NewBatch()
	b.PutRepo(name, rec)
	if err := b.Commit(true); err != nil {
		return err
	}
	rep.Repositories++
	for packID, shards := range f.packs {
		if err := r.rebuildPack(ctx, name, rec.ID, packID, shards, rep); err != nil {
			return err
		}
	}
	if err := r.rebuildKeyFiles(ctx, name, rec.ID, f, rep); err != nil {
		return err
	}
	if err := r.rebuildSnapshots(ctx, name, rec.ID, f, rep); err != nil {
		return err
	}
	return r.rebuildLocks(ctx, name, rec.ID, f, rep)
}

// rebuildPack reads a pack's footer and trailer (through the erasure coder,
// so a damaged shard is rebuilt on the fly) and indexes its chunks.
func (r *Repo) rebuildPack(ctx context.Context, name string, repoID uint32, packID format.ID, shards map[int]uint16, rep *RebuildReport) error {
	hdr, placement, err := r.shardLayout(ctx, name, packID, shards)
	if err != nil {
		rep.PacksLost++
		r.log.Error("pack skipped: no readable shard header", "repo", name, "pack", packID.Short(), "err", err)
		return nil
	}
	entries, err := r.readTrailer(ctx, name, packID, hdr.PackLen, placement)
	if err != nil {
		rep.PacksLost++
		r.log.Error("pack skipped: trailer unreadable", "repo", name, "pack", packID.Short(), "err", err)
		return nil
	}
	b := r.idx.NewBatch()
	defer b.Close()
	rec := indexkey.PackRecord{Length: hdr.PackLen, K: hdr.K, M: hdr.M, Stores: placement, Created: time.Now()}
	for _, e := range entries {
		if _, err := r.idx.GetChunk(repoID, e.ID); err == nil {
			continue // another pack holds it too; keep the first
		}
		b.PutChunk(repoID, e.ID, indexkey.ChunkLoc{Pack: packID, Offset: e.Offset, Length: e.Length, Checksum: e.Checksum})
		rec.LiveBytes += uint64(e.Length)
		rec.LiveCount++
		rep.Chunks++
	}
	b.PutPack(repoID, packID, rec)
	rep.Packs++
	return b.Commit(false)
}

// shardLayout reads the header of any listed shard and returns it with the
// pack's placement; a shard listed nowhere is assigned its placed store if
// that holds none of the pack's other shards, else another store that
// holds none, where scrub will rebuild it.
func (r *Repo) shardLayout(ctx context.Context, name string, packID format.ID, shards map[int]uint16) (shard.Header, []uint16, error) {
	var hdr shard.Header
	var errs []error
	for idx, sid := range shards {
		b, err := backend.ReadAll(ctx, r.stores[sid].Backend, backend.Name(shard.ObjectName(name, packID, idx)), 0, shard.HeaderSize)
		if err == nil {
			hdr, err = shard.DecodeHeader(b)
		}
		if err == nil && hdr.Pack == packID {
			break
		}
		errs = append(errs, err)
		hdr = shard.Header{}
	}
	if hdr.K == 0 {
		return hdr, nil, errors.Join(errs...)
	}
	placement := make([]uint16, hdr.K+hdr.M)
	used := map[uint16]bool{}
	for idx, sid := range shards {
		if idx < len(placement) {
			placement[idx] = sid
			used[sid] = true
		}
	}
	// A pack written while every store took writes has its shards where
	// Place puts them (SPEC.md §9.7), so a shard listed nowhere is most
	// likely on its placed store, one whose disk is not mounted: once it
	// is, the shard is where the index says.
	var home []uint16
	if hdr.K == r.coder.K() && hdr.M == r.coder.M() {
		home = r.coder.Place(packID)
	}
	for idx := range placement {
		if _, ok := shards[idx]; ok {
			continue
		}
		if home != nil && !used[home[idx]] {
			placement[idx], used[home[idx]] = home[idx], true
			continue
		}
		placement[idx] = r.order[idx%len(r.order)]
		for _, sid := range r.order {
			if !used[sid] {
				placement[idx], used[sid] = sid, true
				break
			}
		}
	}
	return hdr, placement, nil
}

func (r *Repo) readTrailer(ctx context.Context, name string, packID format.ID, packLen int64, placement []uint16) ([]pack.Entry, error) {
	if packLen < pack.FooterSize {
		return nil, format.Corruptf("pack %s: length %d shorter than a footer", packID.Short(), packLen)
	}
	var footer pack.Footer
	_, err := r.coder.ReadRange(ctx, name, packID, packLen, placement, packLen-pack.FooterSize, pack.FooterSize,
		func(b []byte) (err error) { footer, err = pack.DecodeFooter(b); return err })
	if err != nil {
		return nil, err
	}
	var entries []pack.Entry
	_, err = r.coder.ReadRange(ctx, name, packID, packLen, placement, int64(footer.TrailerOffset), footer.TrailerLen(),
		func(b []byte) (err error) { entries, err = pack.DecodeTrailer(b, footer, packLen); return err })
	return entries, err
}

// readAnyCopy returns the first copy of a meta object that reads (and, with
// check, passes it).
func (r *Repo) readAnyCopy(ctx context.Context, name string, stores []uint16, check func([]byte) error) ([]byte, error) {
	var errs []error
	for _, sid := range stores {
		b, err := backend.ReadAll(ctx, r.stores[sid].Backend, backend.Name(name), 0, -1)
		if err == nil && check != nil {
			err = check(b)
		}
		if err == nil {
			return b, nil
		}
		errs = append(errs, fmt.Errorf("store %d: %w", sid, err))
	}
	return nil, fmt.Errorf("%s: no intact copy: %w", name, errors.Join(errs...))
}
