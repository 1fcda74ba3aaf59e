package replication

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/repo"
)

// MaxParallel bounds Options.Parallel.
const MaxParallel = 16

// Options configure a Pusher.
type Options struct {
	// Target is the connection to the target server, with a replicate
	// token of TargetRepo.
	Target     *Target
	TargetRepo string
	// Prune deletes snapshots on the target that the source no longer has.
	Prune bool
	// BWLimit caps envelope bytes per second over all streams; 0 = none.
	BWLimit int64
	// Parallel is the number of PutChunks streams; 0 means 1.
	Parallel int
	// Log receives warnings; nil discards. It never sees the token.
	Log *slog.Logger
	// Stats receives counters; nil allocates private ones.
	Stats *Stats
	// Progress is called after each snapshot and at the end of a pass.
	Progress func(*holdfastv1.ReplicateResponse)
	// CopyLock, when set, makes a source snapshot's retention lock travel
	// to the target; see LockCopier.
	CopyLock LockCopier
}

// LockCopier is the integration point for retention locks (issue 6).
// After a snapshot is on the target, and on every pass for snapshots
// already there, the pusher calls it with the snapshot's lock on the
// source (from the source's index) and the lock the target reports in
// ListSnapshots (nil when none). It must make the target's lock at least
// as strong — same mode, until no earlier — through a target RPC that a
// replicate token may call on a replica, and do nothing when it already
// is. CopyLockRPC is the implementation holdfastd uses; without one, locks
// do not travel (the pusher logs once per pass that it skipped them).
type LockCopier func(ctx context.Context, target *Target, repo string, id format.ID, source, onTarget *holdfastv1.Lock) error

// Pusher replicates one source repository to one target repository.
type Pusher struct {
	src    *repo.Repo
	srcID  uint32
	opts   Options
	bucket *bucket
	log    *slog.Logger
	stats  *Stats
	// known is what the target held at the last listing plus what was
	// copied since; only Pass uses it (passes of one pusher never overlap).
	known map[format.ID]bool
}

// New returns a pusher of repository srcID of engine src.
func New(src *repo.Repo, srcID uint32, opts Options) *Pusher {
	if opts.Parallel <= 0 {
		opts.Parallel = 1
	}
	opts.Parallel = min(opts.Parallel, MaxParallel)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Stats == nil {
		opts.Stats = &Stats{}
	}
	return &Pusher{src: src, srcID: srcID, opts: opts, bucket: newBucket(opts.BWLimit), log: opts.Log, stats: opts.Stats}
}

// Stats returns the pusher's counters.
func (p *Pusher) Stats() *Stats { return p.stats }

// sourceSnap is a source snapshot with the time it is ordered by.
type sourceSnap struct {
	repo.Snapshot
	time int64 // header time: when the backup started
}

// Pass replicates every snapshot the target lacks, oldest first, then
// (with Prune) deletes what the source no longer has. It returns the
// pass's totals. A failed pass leaves nothing half-committed on the
// target: every commit is atomic there, and chunks already sent are
// durable on the target (it flushes after an interrupted stream), so the
// next pass sends only what is still missing.
func (p *Pusher) Pass(ctx context.Context) (*holdfastv1.ReplicateResponse, error) {
	res := &holdfastv1.ReplicateResponse{}
	snaps, err := p.sourceSnapshots(ctx)
	if err != nil {
		return res, err
	}
	have, err := p.targetSnapshots(ctx)
	if err != nil {
		// The lag still grows while the target is unreachable: measure
		// it against what the target was last known to hold.
		p.updateLag(missingFrom(snaps, p.known))
		return res, err
	}
	p.known = make(map[format.ID]bool, len(have))
	for id := range have {
		p.known[id] = true
	}
	todo := missingFrom(snaps, p.known)
	res.SnapshotsPresent = int64(len(snaps) - len(todo))
	p.updateLag(todo)
	if len(todo) > 0 {
		if res.KeyFilesSent, err = p.copyKeyFiles(ctx); err != nil {
			return res, err
		}
	}
	for i, s := range todo {
		if err := p.copySnapshot(ctx, s.Snapshot, res); err != nil {
			return res, fmt.Errorf("snapshot %s: %w", s.ID.Short(), err)
		}
		res.SnapshotsCopied++
		p.known[s.ID] = true
		p.stats.SnapshotsSent.Add(1)
		p.updateLag(todo[i+1:])
		p.progress(&holdfastv1.ReplicateResponse{SnapshotId: s.ID[:]}, res)
	}
	if err := p.syncLocks(ctx, snaps, have); err != nil {
		return res, err
	}
	if p.opts.Prune {
		if err := p.prune(ctx, snaps, have, res); err != nil {
			return res, err
		}
	}
	res.PassDone = true
	p.progress(&holdfastv1.ReplicateResponse{PassDone: true}, res)
	return res, nil
}

// missingFrom returns the snapshots of snaps (oldest first) not in have.
func missingFrom(snaps []sourceSnap, have map[format.ID]bool) []sourceSnap {
	var out []sourceSnap
	for _, s := range snaps {
		if !have[s.ID] {
			out = append(out, s)
		}
	}
	return out
}

// progress sends a copy of the totals with the event's own fields.
func (p *Pusher) progress(ev, totals *holdfastv1.ReplicateResponse) {
	if p.opts.Progress == nil {
		return
	}
	ev.SnapshotsCopied, ev.SnapshotsPresent, ev.SnapshotsPruned = totals.SnapshotsCopied, totals.SnapshotsPresent, totals.SnapshotsPruned
	ev.ChunksSent, ev.ChunkBytesSent, ev.KeyFilesSent = totals.ChunksSent, totals.ChunkBytesSent, totals.KeyFilesSent
	ev.LagSnapshots = p.stats.LagSnapshots.Load()
	p.opts.Progress(ev)
}

// updateLag records what is still to copy; todo is oldest first.
func (p *Pusher) updateLag(todo []sourceSnap) {
	if len(todo) == 0 {
		p.stats.setLag(0, time.Time{})
		return
	}
	oldest := todo[0].Committed
	for _, s := range todo {
		if s.Committed.Before(oldest) {
			oldest = s.Committed
		}
	}
	p.stats.setLag(len(todo), oldest)
}

// sourceSnapshots lists the source's snapshots oldest first: by backup
// time, then commit time, then ID, so a parent (older) goes before its
// child and the order is total.
func (p *Pusher) sourceSnapshots(ctx context.Context) ([]sourceSnap, error) {
	var out []sourceSnap
	err := p.src.Snapshots(ctx, p.srcID, func(s repo.Snapshot) error {
		h, err := snapshot.Decode(s.Header)
		if err != nil {
			return fmt.Errorf("source snapshot %s: %w", s.ID.Short(), err)
		}
		out = append(out, sourceSnap{Snapshot: s, time: h.Time})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list source snapshots: %w", err)
	}
	slices.SortFunc(out, func(a, b sourceSnap) int {
		switch {
		case a.time != b.time:
			return cmpInt(a.time, b.time)
		case !a.Committed.Equal(b.Committed):
			return a.Committed.Compare(b.Committed)
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// targetSnapshots lists the target's snapshots with their locks.
func (p *Pusher) targetSnapshots(ctx context.Context) (map[format.ID]*holdfastv1.Snapshot, error) {
	have := map[format.ID]*holdfastv1.Snapshot{}
	var token []byte
	for {
		resp, err := p.opts.Target.Snapshots.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{
			Repo: p.opts.TargetRepo, PageToken: token,
		}))
		if err != nil {
			return nil, targetError("list snapshots", err)
		}
		for _, s := range resp.Msg.GetSnapshots() {
			id, err := format.IDFromBytes(s.GetId())
			if err != nil {
				return nil, fmt.Errorf("target listed a malformed snapshot ID: %w", err)
			}
			have[id] = s
		}
		if token = resp.Msg.GetNextPageToken(); len(token) == 0 {
			return have, nil
		}
	}
}

// copyKeyFiles puts every source key file the target lacks. Key files are
// what lets a restore on the target open the repository with the same
// password; the target stores them as opaque blobs.
func (p *Pusher) copyKeyFiles(ctx context.Context) (int64, error) {
	resp, err := p.opts.Target.Repos.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: p.opts.TargetRepo}))
	if err != nil {
		return 0, targetError("list key files", err)
	}
	have := map[string]bool{}
	for _, k := range resp.Msg.GetKeyFiles() {
		have[string(k.GetId())] = true
	}
	var sent int64
	err = p.src.KeyFiles(p.srcID, func(id format.ID, blob []byte) error {
		if have[string(id[:])] {
			return nil
		}
		_, err := p.opts.Target.Repos.PutKeyFile(ctx, connect.NewRequest(&holdfastv1.PutKeyFileRequest{
			Repo: p.opts.TargetRepo, KeyFile: slices.Clone(blob),
		}))
		if err != nil {
			return targetError("put key file", err)
		}
		sent++
		return nil
	})
	return sent, err
}

// prune deletes target snapshots the source does not have. The target
// refuses locked snapshots (failed_precondition); those are skipped and
// logged, since a lock is exactly the promise that they stay.
func (p *Pusher) prune(ctx context.Context, snaps []sourceSnap, have map[format.ID]*holdfastv1.Snapshot, res *holdfastv1.ReplicateResponse) error {
	keep := make(map[format.ID]bool, len(snaps))
	for _, s := range snaps {
		keep[s.ID] = true
	}
	for id := range have {
		if keep[id] {
			continue
		}
		_, err := p.opts.Target.Snapshots.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: p.opts.TargetRepo, Id: id[:]}))
		if connect.CodeOf(err) == connect.CodeFailedPrecondition {
			p.log.Info("replication: not pruning a locked snapshot on the target", "snapshot", id.Short())
			continue
		}
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
			return targetError("prune snapshot "+id.Short(), err)
		}
		res.SnapshotsPruned++
	}
	return nil
}

// ErrTarget wraps every error the target answered, so callers can tell a
// target problem from a source one.
var ErrTarget = errors.New("target")

// targetError names the step and keeps the target's Connect code
// reachable with errors.As. Target messages never hold the token: servers
// never echo tokens (SPEC.md §12.2).
func targetError(step string, err error) error {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		// Said here, on the source server, because only its
		// configuration can fix it: a client's --ca-file is for the
		// client's own connection.
		return fmt.Errorf("%w: %s: %w (this server does not trust the target's certificate: give the CA that signed it as ca_file in the replication config, or with admin replicate --to-ca-file)", ErrTarget, step, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrTarget, step, err)
}
