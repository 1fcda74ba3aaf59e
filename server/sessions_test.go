package server

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestSessionSweeper lets one of two sessions expire: the sweep removes it
// and its pins and leaves the renewed one alone; the background sweeper
// then removes the second once it expires too.
func TestSessionSweeper(t *testing.T) {
	ctx := context.Background()
	f := newUpFixture(t, upOptions{})
	c := f.client(f.backup, false)
	old := sealChunks(t, "sweep", 6, 2000)
	h, refs := upHeader(t, old, "a")
	if _, err := c.backupRun(ctx, old, h, refs); err != nil {
		t.Fatal(err)
	}
	b := &badEnv{t: t, f: f, c: c}
	a, keep := b.begin(ctx), b.begin(ctx)
	for _, sid := range [][]byte{a, keep} {
		if err := b.filter(ctx, sid, old[0].id[:], old[1].id[:], old[2].id[:]); err != nil {
			t.Fatal(err)
		}
	}
	if n := countPins(t, f.eng, f.id); n != 6 {
		t.Fatalf("%d pins, want 6", n)
	}

	f.clock.Advance(DefaultSessionLease / 2)
	if _, err := c.upload.KeepAlive(ctx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: f.repo, SessionId: keep})); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultSessionLease/2 + time.Second)
	n, err := f.srv.SweepSessions(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d sessions, %v; want 1", n, err)
	}
	if n := countPins(t, f.eng, f.id); n != 3 {
		t.Fatalf("%d pins after the sweep, want the renewed session's 3", n)
	}
	sa, _ := parseSessionID(a)
	if _, err := f.eng.Index().GetSession(f.id, sa); err == nil {
		t.Fatal("expired session still recorded")
	}
	wantCode(t, "filter in the swept session", b.filter(ctx, a, old[0].id[:]), connect.CodeNotFound)
	if err := b.filter(ctx, keep, old[3].id[:]); err != nil {
		t.Fatalf("renewed session: %v", err)
	}

	f.clock.Advance(DefaultSessionLease + time.Second)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.srv.RunSessionSweeper(sctx, 10*time.Millisecond); close(done) }()
	settle(t, "background sweep", func() bool { return countPins(t, f.eng, f.id) == 0 })
	stop()
	<-done
	if n, err := f.srv.SweepSessions(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep: %d, %v", n, err)
	}
}
