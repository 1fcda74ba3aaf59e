package replication

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// CopyLockRPC is the LockCopier that holdfastd uses: it raises the
// target's lock with the target's own Lock RPC, which a replicate token
// may call in a replica (SPEC.md §12.5). The target then applies its own
// rules, S3 retention included, exactly as for a lock set there by hand.
//
// It sends nothing when the target's lock is already at least as strong:
// compliance beats governance, and a later until beats an earlier one.
// A target lock that is stronger in one way and weaker in the other (a
// later governance lock against a compliance source lock) is raised to
// compliance with the later until, so the result dominates both.
func CopyLockRPC(ctx context.Context, t *Target, repo string, id format.ID, source, onTarget *holdfastv1.Lock) error {
	mode, until := source.GetMode(), source.GetUntilUnixNano()
	if onTarget != nil {
		if covers(onTarget, source) {
			return nil
		}
		until = max(until, onTarget.GetUntilUnixNano())
		if onTarget.GetMode() == holdfastv1.LockMode_LOCK_MODE_COMPLIANCE {
			mode = holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
		}
	}
	_, err := t.Retention.Lock(ctx, connect.NewRequest(&holdfastv1.LockRequest{
		Repo: repo, Id: id[:], Mode: mode, UntilUnixNano: until,
	}))
	if err != nil {
		return fmt.Errorf("lock %s on the target: %w", id.Short(), err)
	}
	return nil
}

// covers reports whether lock a is at least as strong as b.
func covers(a, b *holdfastv1.Lock) bool {
	if a.GetUntilUnixNano() < b.GetUntilUnixNano() {
		return false
	}
	return a.GetMode() == holdfastv1.LockMode_LOCK_MODE_COMPLIANCE || b.GetMode() != holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
}
