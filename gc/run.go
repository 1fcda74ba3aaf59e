package gc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Run collects the garbage of repository repoID: it marks every chunk the
// snapshots in the index reference, seals (keeps what snapshots committed
// meanwhile reference or sessions pin, deletes the rest from the index),
// deletes packs left without live chunks, repacks sparse ones and deletes
// orphan shards. It is safe while uploads, commits, forgets and restores
// run (SPEC.md §13). One run per repository at a time: a second gets
// ErrBusy. A run that fails or crashes leaves its phase in the GC state; the
// next run starts over.
func Run(ctx context.Context, r *repo.Repo, repoID uint32, opts Options) (Report, error) {
	var rep Report
	opts, err := opts.withDefaults()
	if err != nil {
		return rep, err
	}
	end, ok := r.BeginGC(repoID)
	if !ok {
		return rep, ErrBusy
	}
	defer end()
	start := time.Now()
	guard0 := r.GCGuardStats(repoID)
	dir, err := tempDir(r.TempDir(), repoID)
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	m := &marker{
		r: r, repoID: repoID, opts: opts, now: opts.Now(), dir: dir, rep: &rep,
		known: map[format.ID]bool{}, locked: map[format.ID]bool{}, ord: map[format.ID]uint32{},
	}
	m.cutoff = m.now.Add(-opts.Grace)
	rep.DryRun = opts.DryRun
	state, err := m.begin()
	if err != nil {
		return rep, err
	}
	defer func() {
		if m.cands != nil {
			m.cands.close()
		}
	}()
	if err := m.phases(ctx); err != nil {
		return rep, err
	}
	g := r.GCGuardStats(repoID)
	rep.GuardHolds = g.Holds - guard0.Holds
	rep.GuardTotalMS = ms(g.Total - guard0.Total)
	rep.GuardMaxMS = ms(g.Max) // since the engine opened; one GC at a time
	rep.Duration = time.Since(start).Seconds()
	if err := m.finish(state); err != nil {
		return rep, err
	}
	opts.Log.Info("gc finished", "repo", repoID, "dry_run", opts.DryRun,
		"chunks_freed", rep.ChunksFreed, "packs_deleted", rep.PacksDeleted,
		"packs_repacked", rep.PacksRepacked, "bytes_freed", rep.BytesFreed, "seconds", rep.Duration)
	return rep, nil
}

func (m *marker) phases(ctx context.Context) error {
	t := time.Now()
	if err := m.mark(ctx); err != nil {
		return fmt.Errorf("gc: mark: %w", err)
	}
	m.rep.Phases.Mark = time.Since(t).Seconds()
	if err := m.setPhase(indexkey.GCSweeping); err != nil {
		return err
	}
	t = time.Now()
	if err := m.seal(ctx); err != nil {
		return fmt.Errorf("gc: seal: %w", err)
	}
	m.rep.Phases.Seal = time.Since(t).Seconds()
	t = time.Now()
	if err := m.packsPhase(ctx); err != nil {
		return fmt.Errorf("gc: packs: %w", err)
	}
	m.rep.Phases.Packs = time.Since(t).Seconds()
	t = time.Now()
	o, err := m.r.DeleteOrphanShards(ctx, m.repoID, m.cutoff, m.opts.DryRun)
	if err != nil {
		return fmt.Errorf("gc: orphan shards: %w", err)
	}
	m.rep.OrphanShards, m.rep.OrphanBytes = o.Shards, o.Bytes
	m.rep.Phases.Orphans = time.Since(t).Seconds()
	m.opts.step("orphans: done")
	return nil
}

// tempDir returns an empty directory for this run's temporary files:
// DATA/.gc-<repo>, emptied first because a crashed run of this repository
// may have left files there (BeginGC makes this run its only user).
func tempDir(data string, repoID uint32) (string, error) {
	dir := filepath.Join(data, fmt.Sprintf(".gc-%d", repoID))
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("gc: clear temporary directory: %w", errors.Unwrap(err))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("gc: temporary directory: %w", errors.Unwrap(err))
	}
	return dir, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// begin reads the GC state and, unless dry, records a new run as marking.
func (m *marker) begin() (indexkey.GCState, error) {
	st, err := m.r.Index().GetGCState(m.repoID)
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return st, fmt.Errorf("gc: read state: %w", err)
	}
	m.rep.Interrupted = st.Phase != indexkey.GCIdle
	st.Epoch++
	m.rep.Epoch = st.Epoch
	if m.opts.DryRun {
		return st, nil
	}
	st.Phase, st.Started = indexkey.GCMarking, m.now
	return st, m.putState(st)
}

func (m *marker) setPhase(p indexkey.GCPhase) error {
	if m.opts.DryRun {
		return nil
	}
	st, err := m.r.Index().GetGCState(m.repoID)
	if err != nil {
		return fmt.Errorf("gc: read state: %w", err)
	}
	st.Phase = p
	return m.putState(st)
}

// finish records the completed run.
func (m *marker) finish(st indexkey.GCState) error {
	if m.opts.DryRun {
		return nil
	}
	st.Phase, st.Finished = indexkey.GCIdle, m.opts.Now()
	if !st.Finished.After(st.Started) {
		st.Finished = st.Started.Add(time.Nanosecond)
	}
	st.FreedBytes = uint64(max(m.rep.BytesFreed, 0))
	st.FreedPacks = uint64(m.rep.PacksDeleted + m.rep.PacksRepacked)
	return m.putState(st)
}

func (m *marker) putState(st indexkey.GCState) error {
	b := m.r.Index().NewBatch()
	defer b.Close()
	b.PutGCState(m.repoID, st)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("gc: record state: %w", err)
	}
	return nil
}
