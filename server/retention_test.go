package server

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// stubGC stands in for gc.Run in the role matrix: it reports nothing freed.
func stubGC(_ context.Context, _ uint32, dryRun bool, progress func(GCProgress)) (*holdfastv1.GCReport, error) {
	if progress != nil {
		for _, p := range []GCProgress{{"mark", 1, 3}, {"mark", 2, 3}, {"mark", 3, 3}, {"seal", 7, 7}} {
			progress(p)
		}
	}
	return &holdfastv1.GCReport{DryRun: dryRun}, nil
}

// retClient returns a RetentionService client sending tok.
func (f *upFixture) retClient(tok string) holdfastv1connect.RetentionServiceClient {
	return holdfastv1connect.NewRetentionServiceClient(upH2C, f.url, connect.WithInterceptors(upBearer(tok)))
}

// snapSpec describes a test snapshot's clear header.
type snapSpec struct {
	time time.Time
	host string
	tags []string
}

// commitSpecs commits one snapshot per spec and returns their IDs.
func commitSpecs(t *testing.T, f *upFixture, specs []snapSpec) []format.ID {
	t.Helper()
	c := f.client(f.backup, false)
	var out []format.ID
	for i, sp := range specs {
		chunks := sealChunks(t, fmt.Sprintf("ret-%d", i), 2, 1000)
		enc, refs := upHeader(t, chunks, sp.host)
		h, err := snapshot.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		h.Time, h.Tags = sp.time.UnixNano(), sp.tags
		h.Sign(upKeys.MAC)
		res, err := c.backupRun(context.Background(), chunks, h.Encode(), refs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.snap)
	}
	return out
}

func (f *upFixture) lock(tok string, id format.ID, mode holdfastv1.LockMode, until time.Time) error {
	_, err := f.retClient(tok).Lock(context.Background(), connect.NewRequest(&holdfastv1.LockRequest{
		Repo: f.repo, Id: id[:], Mode: mode, UntilUnixNano: until.UnixNano()}))
	return err
}

func (f *upFixture) forget(tok string, req *holdfastv1.ForgetRequest) (*holdfastv1.ForgetResponse, error) {
	req.Repo = f.repo
	resp, err := f.retClient(tok).Forget(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// verdicts renders a verdict list as "index:reasons", with index the
// position of its ID in ids.
func verdicts(ids []format.ID, vs []*holdfastv1.SnapshotVerdict) []string {
	var out []string
	for _, v := range vs {
		i := slices.Index(ids, format.ID(v.Id))
		out = append(out, fmt.Sprintf("%d:%v", i, v.Reasons))
	}
	slices.Sort(out)
	return out
}

const (
	govMode  = holdfastv1.LockMode_LOCK_MODE_GOVERNANCE
	compMode = holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
)

// TestForgetPolicy: a dry run reports and deletes nothing; the real run
// removes exactly what the dry run said, per host group, keeping the
// locked snapshot with its reason.
func TestForgetPolicy(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	day := func(d int) time.Time { return time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC) }
	ids := commitSpecs(t, f, []snapSpec{
		{day(1), "h1", nil}, {day(2), "h1", []string{"x"}}, {day(3), "h1", nil}, {day(4), "h1", nil}, {day(2), "h2", nil},
	})
	now := f.clock.Now()
	if err := f.lock(f.admin, ids[0], compMode, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	req := &holdfastv1.ForgetRequest{Policy: &holdfastv1.Policy{KeepLast: 1}, DryRun: true}
	dry, err := f.forget(f.admin, req)
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := []string{"1:[policy]", "2:[policy]"}
	wantKept := []string{"0:[locked (compliance) until 2026-11-22T04:00:00Z]", "3:[last snapshot]", "4:[last snapshot]"}
	if got := verdicts(ids, dry.Removed); !slices.Equal(got, wantRemoved) || !dry.DryRun {
		t.Fatalf("dry run removed %q, want %q", got, wantRemoved)
	}
	if got := verdicts(ids, dry.Kept); !slices.Equal(got, wantKept) {
		t.Fatalf("dry run kept %q, want %q", got, wantKept)
	}
	if got, _ := listAll(t, f.client(f.admin, false), 0); len(got) != 5 {
		t.Fatalf("dry run deleted: %d snapshots left", len(got))
	}
	// A tag filter narrows what the policy considers.
	tagged, err := f.forget(f.admin, &holdfastv1.ForgetRequest{DryRun: true, Policy: &holdfastv1.Policy{
		KeepLast: 1, Tags: []*holdfastv1.TagSet{{Tags: []string{"x"}}}}})
	if err != nil || len(tagged.Removed) != 0 || len(tagged.Kept) != 1 || format.ID(tagged.Kept[0].Id) != ids[1] {
		t.Fatalf("tag-filtered dry run: %v, %v", tagged, err)
	}
	req.DryRun = false
	real, err := f.forget(f.admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := verdicts(ids, real.Removed); !slices.Equal(got, wantRemoved) {
		t.Fatalf("removed %q, want %q", got, wantRemoved)
	}
	left, _ := listAll(t, f.client(f.admin, false), 0)
	slices.SortFunc(left, format.ID.Compare)
	want := []format.ID{ids[0], ids[3], ids[4]}
	slices.SortFunc(want, format.ID.Compare)
	if !slices.Equal(left, want) {
		t.Fatalf("left %d snapshots, want 0, 3 and 4", len(left))
	}
}

// TestForgetArguments: what Forget refuses, and that a refusal deletes
// nothing.
func TestForgetArguments(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	ids := commitSnapshots(t, f, 3)
	now := f.clock.Now()
	if err := f.lock(f.admin, ids[0], compMode, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.lock(f.admin, ids[1], govMode, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		req  *holdfastv1.ForgetRequest
		code connect.Code
	}{
		{"nothing asked", &holdfastv1.ForgetRequest{}, connect.CodeInvalidArgument},
		{"policy without keep rule", &holdfastv1.ForgetRequest{Policy: &holdfastv1.Policy{Tags: []*holdfastv1.TagSet{{Tags: []string{"a"}}}}}, connect.CodeInvalidArgument},
		{"negative count", &holdfastv1.ForgetRequest{Policy: &holdfastv1.Policy{KeepDaily: -2}}, connect.CodeInvalidArgument},
		{"short ID", &holdfastv1.ForgetRequest{Ids: [][]byte{{1, 2}}}, connect.CodeInvalidArgument},
		{"unknown ID", &holdfastv1.ForgetRequest{Ids: [][]byte{make([]byte, 32)}}, connect.CodeNotFound},
		{"compliance-locked ID", &holdfastv1.ForgetRequest{Ids: [][]byte{ids[2][:], ids[0][:]}}, connect.CodePermissionDenied},
		{"governance-locked ID", &holdfastv1.ForgetRequest{Ids: [][]byte{ids[2][:], ids[1][:]}}, connect.CodeFailedPrecondition},
	} {
		_, err := f.forget(f.admin, c.req)
		wantCode(t, c.what, err, c.code)
		_, err = f.forget(f.server, c.req)
		wantCode(t, c.what+" (server admin)", err, c.code)
	}
	if got, _ := listAll(t, f.client(f.admin, false), 0); len(got) != 3 {
		t.Fatalf("refused forgets deleted something: %d left", len(got))
	}
	resp, err := f.forget(f.admin, &holdfastv1.ForgetRequest{Ids: [][]byte{ids[2][:]}})
	if err != nil || len(resp.Removed) != 1 || resp.Removed[0].Reasons[0] != "named" {
		t.Fatalf("named forget: %v, %v", resp, err)
	}
}

// TestComplianceLockBindsEveryone: nobody, the server admin included, can
// unlock, shorten or weaken a compliance lock; it can be extended; after
// it expires (server clock) forget works and removes the lock.
func TestComplianceLockBindsEveryone(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	ids := commitSnapshots(t, f, 1)
	id := ids[0]
	now := f.clock.Now()
	until := now.Add(2 * time.Hour)
	if err := f.lock(f.admin, id, compMode, until); err != nil {
		t.Fatal(err)
	}
	for who, tok := range map[string]string{"admin": f.admin, "server admin": f.server} {
		wantCode(t, who+" shortens", f.lock(tok, id, compMode, until.Add(-time.Minute)), connect.CodePermissionDenied)
		wantCode(t, who+" weakens to governance", f.lock(tok, id, govMode, until.Add(time.Hour)), connect.CodePermissionDenied)
		_, err := f.retClient(tok).Unlock(ctx, connect.NewRequest(&holdfastv1.UnlockRequest{Repo: f.repo, Id: id[:]}))
		wantCode(t, who+" unlocks", err, connect.CodePermissionDenied)
		_, err = f.client(tok, false).snap.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: f.repo, Id: id[:]}))
		wantCode(t, who+" deletes", err, connect.CodePermissionDenied)
	}
	until = until.Add(time.Hour)
	if err := f.lock(f.server, id, compMode, until); err != nil {
		t.Fatalf("extend: %v", err)
	}
	get, err := f.client(f.restore, false).snap.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: f.repo, Id: id[:]}))
	if err != nil || get.Msg.Snapshot.Lock.GetUntilUnixNano() != until.UnixNano() || get.Msg.Snapshot.Lock.GetMode() != compMode {
		t.Fatalf("lock after extension: %v, %v", get.Msg.GetSnapshot().GetLock(), err)
	}
	f.clock.Advance(3*time.Hour - time.Second)
	_, err = f.forget(f.admin, &holdfastv1.ForgetRequest{Ids: [][]byte{id[:]}})
	wantCode(t, "forget a second before expiry", err, connect.CodePermissionDenied)
	f.clock.Advance(time.Second)
	if _, err := f.forget(f.admin, &holdfastv1.ForgetRequest{Ids: [][]byte{id[:]}}); err != nil {
		t.Fatalf("forget after expiry: %v", err)
	}
	if _, has, _ := f.eng.GetLock(f.id, id); has {
		t.Fatal("the expired lock survived the forget")
	}
}

// TestGovernanceLock: an admin may shorten it, the server admin and the
// repository admin may lift it; until must be in the future and within
// the server's maximum; the mode must be given.
func TestGovernanceLock(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	ids := commitSnapshots(t, f, 2)
	now := f.clock.Now()
	wantCode(t, "until in the past", f.lock(f.admin, ids[0], govMode, now.Add(-time.Second)), connect.CodeInvalidArgument)
	wantCode(t, "until beyond the maximum", f.lock(f.admin, ids[0], govMode, now.Add(DefaultMaxLock+time.Second)), connect.CodeInvalidArgument)
	wantCode(t, "no mode", f.lock(f.admin, ids[0], holdfastv1.LockMode_LOCK_MODE_UNSPECIFIED, now.Add(time.Hour)), connect.CodeInvalidArgument)
	wantCode(t, "unknown snapshot", f.lock(f.admin, format.ID{1}, govMode, now.Add(time.Hour)), connect.CodeNotFound)
	if err := f.lock(f.admin, ids[0], govMode, now.Add(DefaultMaxLock)); err != nil {
		t.Fatalf("lock up to the maximum: %v", err)
	}
	if err := f.lock(f.admin, ids[0], govMode, now.Add(time.Hour)); err != nil {
		t.Fatalf("shorten governance: %v", err)
	}
	if err := f.lock(f.admin, ids[1], govMode, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, tok := range []string{f.admin, f.server} {
		if _, err := f.retClient(tok).Unlock(ctx, connect.NewRequest(&holdfastv1.UnlockRequest{Repo: f.repo, Id: ids[i][:]})); err != nil {
			t.Fatalf("unlock %d: %v", i, err)
		}
	}
	_, err := f.retClient(f.admin).Unlock(ctx, connect.NewRequest(&holdfastv1.UnlockRequest{Repo: f.repo, Id: ids[0][:]}))
	wantCode(t, "unlock an unlocked snapshot", err, connect.CodeNotFound)
}

// TestMaxLockOption: Options.MaxLock bounds locks.
func TestMaxLockOption(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	f.srv.maxLock = time.Hour // as Options.MaxLock would set it
	ids := commitSnapshots(t, f, 1)
	now := f.clock.Now()
	wantCode(t, "beyond one hour", f.lock(f.admin, ids[0], govMode, now.Add(time.Hour+time.Second)), connect.CodeInvalidArgument)
	if err := f.lock(f.admin, ids[0], govMode, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestCollectGarbageUnwired: without an injected collector the RPC
// answers Unimplemented (after the role check).
func TestCollectGarbageUnwired(t *testing.T) {
	f := newUpFixture(t, upOptions{})
	c := func(tok string) error {
		_, err := f.retClient(tok).CollectGarbage(context.Background(), connect.NewRequest(&holdfastv1.CollectGarbageRequest{Repo: f.repo}))
		return err
	}
	wantCode(t, "gc as backup", c(f.backup), connect.CodePermissionDenied)
	wantCode(t, "gc as admin", c(f.admin), connect.CodeUnimplemented)
	streamed := func(tok string) error {
		st, err := f.retClient(tok).CollectGarbageStream(context.Background(), connect.NewRequest(&holdfastv1.CollectGarbageStreamRequest{Repo: f.repo}))
		if err != nil {
			return err
		}
		defer st.Close()
		for st.Receive() {
		}
		return st.Err()
	}
	wantCode(t, "streamed gc as backup", streamed(f.backup), connect.CodePermissionDenied)
	wantCode(t, "streamed gc as admin", streamed(f.admin), connect.CodeUnimplemented)
}

// TestCollectGarbageStream: the stream starts with a "start" message, sends
// the collector's progress (a phase change always, and a phase's last
// step), and ends with the report.
func TestCollectGarbageStream(t *testing.T) {
	f := newUpFixture(t, upOptions{gc: stubGC})
	st, err := f.retClient(f.admin).CollectGarbageStream(context.Background(), connect.NewRequest(&holdfastv1.CollectGarbageStreamRequest{Repo: f.repo, DryRun: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var phases []string
	var report *holdfastv1.GCReport
	for st.Receive() {
		m := st.Msg()
		if report != nil {
			t.Fatal("a message after the report")
		}
		if p := m.GetProgress(); p != nil {
			phases = append(phases, fmt.Sprintf("%s %d/%d", p.GetPhase(), p.GetDone(), p.GetTotal()))
		}
		report = m.GetReport()
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if report == nil || !report.GetDryRun() {
		t.Fatalf("report %v, want the dry run's", report)
	}
	// The fixture's clock stands still, so mark 2/3 falls within the half
	// second after mark 1/3: not sent.
	want := []string{"start 0/0", "mark 1/3", "mark 3/3", "seal 7/7"}
	if !slices.Equal(phases, want) {
		t.Fatalf("progress %q, want %q", phases, want)
	}
}
