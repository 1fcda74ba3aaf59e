package replication

import (
	"context"
	"errors"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// syncLocks hands every locked source snapshot that the target now holds to
// Options.CopyLock (see LockCopier). It runs on every pass, so a lock set
// or extended after a snapshot was replicated travels too.
func (p *Pusher) syncLocks(ctx context.Context, snaps []sourceSnap, have map[format.ID]*holdfastv1.Snapshot) error {
	skipped := 0
	for _, s := range snaps {
		l, err := p.src.Index().GetLock(p.srcID, s.ID)
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("source lock of %s: %w", s.ID.Short(), err)
		}
		if p.opts.CopyLock == nil {
			skipped++
			continue
		}
		var onTarget *holdfastv1.Lock
		if t := have[s.ID]; t != nil {
			onTarget = t.GetLock()
		}
		src := &holdfastv1.Lock{Mode: lockMode(l.Mode), UntilUnixNano: l.Until.UnixNano()}
		if err := p.opts.CopyLock(ctx, p.opts.Target, p.opts.TargetRepo, s.ID, src, onTarget); err != nil {
			return targetError("copy lock of "+s.ID.Short(), err)
		}
	}
	if skipped > 0 {
		p.log.Warn("replication: retention locks are not copied to the target yet (no lock copier wired)", "locked_snapshots", skipped)
	}
	return nil
}

func lockMode(m indexkey.LockMode) holdfastv1.LockMode {
	switch m {
	case indexkey.LockGovernance:
		return holdfastv1.LockMode_LOCK_MODE_GOVERNANCE
	case indexkey.LockCompliance:
		return holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
	}
	return holdfastv1.LockMode_LOCK_MODE_UNSPECIFIED
}
