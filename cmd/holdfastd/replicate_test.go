package main

import (
	"context"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestReplicateIdempotentRestoreAndPromote replicates two snapshots between
// two real servers, checks the second run sends no chunk bytes, restores
// from the replica with a restore token bit for bit, and checks the replica
// flag: a backup token is refused until the repository is promoted.
func TestReplicateIdempotentRestoreAndPromote(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts two holdfastd processes")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	dir := t.TempDir()
	writeTree(t, dir, 1, 12, 700<<10)
	first := p.backup(t, dir)
	writeTree(t, dir, 2, 4, 900<<10) // changes some files, adds none
	second := p.backup(t, dir)
	ctx := context.Background()

	res, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotsCopied != 2 || res.ChunkBytesSent == 0 || res.KeyFilesSent != 1 || !res.PassDone {
		t.Fatalf("first pass: %+v", res)
	}
	got := p.dst.snapshotIDs(p.replToken, "web")
	want := []string{first.String(), second.String()}
	if len(got) != 2 || !slices.Contains(want, got[0].String()) || !slices.Contains(want, got[1].String()) {
		t.Fatalf("target snapshots %v, want the source's %v", got, want)
	}
	t.Logf("first pass: %d chunks, %d bytes", res.ChunksSent, res.ChunkBytesSent)

	res, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotsCopied != 0 || res.SnapshotsPresent != 2 || res.ChunkBytesSent != 0 || res.KeyFilesSent != 0 {
		t.Fatalf("second pass must transfer nothing: %+v", res)
	}

	restoreTok := p.dst.token("web", holdfastv1.Role_ROLE_RESTORE)
	restoreAndCompare(t, p.dst, restoreTok, second, dir)

	// A snapshot deleted on the source stays on the replica unless the
	// pass prunes.
	if _, err := p.src.conn(p.srcAdmin, "web").Snapshots.DeleteSnapshot(ctx, connect.NewRequest(&holdfastv1.DeleteSnapshotRequest{Repo: "web", Id: first[:]})); err != nil {
		t.Fatal(err)
	}
	if res, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{}); err != nil || res.SnapshotsPruned != 0 {
		t.Fatalf("pass without prune: %+v, %v", res, err)
	}
	if n := len(p.dst.snapshotIDs(restoreTok, "web")); n != 2 {
		t.Fatalf("without prune the replica has %d snapshots, want 2", n)
	}
	if res, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{Prune: true}); err != nil || res.SnapshotsPruned != 1 {
		t.Fatalf("pass with prune: %+v, %v", res, err)
	}
	if ids := p.dst.snapshotIDs(restoreTok, "web"); len(ids) != 1 || ids[0] != second {
		t.Fatalf("after prune the replica has %v, want [%s]", ids, second)
	}

	// The replica refuses a backup token's upload, and the server admin's.
	backupTok := p.dst.token("web", holdfastv1.Role_ROLE_BACKUP)
	begin := func(tok string) error {
		_, err := p.dst.conn(tok, "web").Upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: "web"}))
		return err
	}
	if err := begin(backupTok); !codeIs(err, connect.CodePermissionDenied) {
		t.Fatalf("backup token on a replica: got %v, want permission_denied", err)
	}
	if err := begin(p.dst.admin); !codeIs(err, connect.CodePermissionDenied) {
		t.Fatalf("server admin upload on a replica: got %v, want permission_denied", err)
	}
	// A restore token of the target cannot be used to replicate into it
	// (a new snapshot makes the pass write).
	writeTree(t, dir, 3, 1, 100<<10)
	third := p.backup(t, dir)
	_, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{TargetToken: restoreTok})
	if !codeIs(err, connect.CodePermissionDenied) {
		t.Fatalf("replicating with a restore token: got %v, want permission_denied", err)
	}
	if err := p.dst.setReplica("web", false); err != nil {
		t.Fatal(err)
	}
	if err := begin(backupTok); err != nil {
		t.Fatalf("backup token after promotion: %v", err)
	}
	if ids := p.dst.snapshotIDs(restoreTok, "web"); slices.Contains(ids, third) {
		t.Fatal("the refused replication committed a snapshot")
	}
}

// TestReplicateRefusesBadRequests checks argument validation and that
// only an admin of the source repository may start a replication.
func TestReplicateRefusesBadRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts two holdfastd processes")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, req := range map[string]*holdfastv1.ReplicateRequest{
		"no scheme":   {TargetUrl: "127.0.0.1:1"},
		"credentials": {TargetUrl: "http://u:p@127.0.0.1:1"},
		"bad token":   {TargetToken: "nope"},
		"parallel":    {Parallel: 99},
	} {
		if _, err := p.replicate(ctx, req); !codeIs(err, connect.CodeInvalidArgument) {
			t.Errorf("%s: got %v, want invalid_argument", name, err)
		}
	}
	backupTok := p.src.token("web", holdfastv1.Role_ROLE_BACKUP)
	stream, err := p.src.conn(backupTok, "web").Replication.Replicate(ctx, connect.NewRequest(&holdfastv1.ReplicateRequest{Repo: "web", TargetUrl: p.dst.url, TargetToken: p.replToken}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
	}
	if !codeIs(err, connect.CodePermissionDenied) {
		t.Fatalf("backup token starting a replication: got %v, want permission_denied", err)
	}
	// An unreachable target fails the pass with unavailable, token unsaid.
	_, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{TargetUrl: "http://" + freeAddr(t)})
	if !codeIs(err, connect.CodeUnavailable) {
		t.Fatalf("unreachable target: got %v, want unavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), p.replToken) {
		t.Fatal("the error echoes the target token")
	}
}

// TestReplicateAllowList starts the source with --replicate-allow naming
// the target: replication to it works, and any other address (an internal
// service, another port of the same host) is refused with
// permission_denied before the server connects to it.
func TestReplicateAllowList(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts two holdfastd processes")
	}
	bin := buildServer(t)
	dst := startSite(t, bin)
	createRepo(t, dst.url, dst.admin, "web")
	if err := dst.setReplica("web", true); err != nil {
		t.Fatal(err)
	}
	p := &replPair{dst: dst, replToken: dst.token("web", holdfastv1.Role_ROLE_REPLICATE)}
	p.startSource(t, bin, "--replicate-allow", "localhost,"+dst.addr)
	id := p.backup(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{}); err != nil {
		t.Fatalf("replication to an allowed target: %v", err)
	}
	if !slices.Contains(dst.snapshotIDs(p.replToken, "web"), id) {
		t.Fatal("the allowed replication did not deliver the snapshot")
	}
	// A listener that must never see a connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	for _, target := range []string{"http://" + ln.Addr().String(), "http://169.254.169.254"} {
		_, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{TargetUrl: target})
		if !codeIs(err, connect.CodePermissionDenied) || !strings.Contains(err.Error(), "--replicate-allow") {
			t.Fatalf("target %s outside the list: %v, want permission_denied naming --replicate-allow", target, err)
		}
	}
	select {
	case <-accepted:
		t.Fatal("the server connected to a target outside its --replicate-allow list")
	case <-time.After(200 * time.Millisecond):
	}
	// A bad list stops the server at start.
	out, err := exec.Command(bin, "serve", "--data", t.TempDir(), "--replicate-allow", "https://dr.example").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "--replicate-allow") {
		t.Fatalf("bad --replicate-allow: exit %d, %s", code, out)
	}
}
