package main

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestReplicateLocks: a lock travels with its snapshot, and a lock set or
// extended on the source after the snapshot was replicated travels on the
// next pass; the replica's lock is then as strong as the source's, so even
// its own server admin cannot unlock it. A replicate token cannot lock in a
// repository that is not a replica.
func TestReplicateLocks(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts two holdfastd processes")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	dir := t.TempDir()
	writeTree(t, dir, 7, 4, 300<<10)
	id := p.backup(t, dir)
	ctx := context.Background()
	src := p.src.conn(p.srcAdmin, "web")
	lock := func(mode holdfastv1.LockMode, until time.Time) {
		t.Helper()
		if _, err := src.Retention.Lock(ctx, connect.NewRequest(&holdfastv1.LockRequest{Repo: "web", Id: id[:], Mode: mode, UntilUnixNano: until.UnixNano()})); err != nil {
			t.Fatal(err)
		}
	}
	targetLock := func() *holdfastv1.Lock {
		t.Helper()
		resp, err := p.dst.conn(p.replToken, "web").Snapshots.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: "web", Id: id[:]}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetSnapshot().GetLock()
	}
	pass := func() {
		t.Helper()
		if _, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{}); err != nil {
			t.Fatal(err)
		}
	}

	first := time.Now().Add(time.Hour).Truncate(time.Second)
	lock(holdfastv1.LockMode_LOCK_MODE_GOVERNANCE, first)
	pass()
	if l := targetLock(); l.GetMode() != holdfastv1.LockMode_LOCK_MODE_GOVERNANCE || l.GetUntilUnixNano() != first.UnixNano() {
		t.Fatalf("lock on the replica after the first pass: %+v", l)
	}

	later := first.Add(time.Hour)
	lock(holdfastv1.LockMode_LOCK_MODE_COMPLIANCE, later)
	pass()
	if l := targetLock(); l.GetMode() != holdfastv1.LockMode_LOCK_MODE_COMPLIANCE || l.GetUntilUnixNano() != later.UnixNano() {
		t.Fatalf("lock on the replica after the source's extension: %+v", l)
	}
	_, err := p.dst.conn(p.dst.admin, "web").Retention.Unlock(ctx, connect.NewRequest(&holdfastv1.UnlockRequest{Repo: "web", Id: id[:]}))
	if !codeIs(err, connect.CodePermissionDenied) {
		t.Fatalf("server admin unlocking a replicated compliance lock: %v, want permission_denied", err)
	}
	pass() // nothing to raise: idempotent
	if l := targetLock(); l.GetUntilUnixNano() != later.UnixNano() {
		t.Fatalf("lock changed by an idempotent pass: %+v", l)
	}

	// The source is not a replica: a replicate token may not lock there.
	srcRepl := p.src.token("web", holdfastv1.Role_ROLE_REPLICATE)
	_, err = p.src.conn(srcRepl, "web").Retention.Lock(ctx, connect.NewRequest(&holdfastv1.LockRequest{Repo: "web", Id: id[:],
		Mode: holdfastv1.LockMode_LOCK_MODE_COMPLIANCE, UntilUnixNano: later.Add(time.Hour).UnixNano()}))
	if !codeIs(err, connect.CodePermissionDenied) {
		t.Fatalf("replicate token locking outside a replica: %v, want permission_denied", err)
	}
}
