package main

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
)

// TestCollectGarbageThroughBinary runs the real holdfastd with gc.Run wired
// in: after one of two overlapping snapshots is forgotten, CollectGarbage
// marks from the survivor, counts the forgotten one's own chunks as
// unreferenced but inside the grace period, frees nothing yet, and the
// survivor still reads back whole. (That GC reclaims once the grace has
// passed is shown in package gc, with a clock it can move.)
func TestCollectGarbageThroughBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	_, url := startCmdGrace(t, bin, data)
	token := readToken(t, data)
	createRepo(t, url, token, "db")
	c := newKillClient(url, token, "db")
	pool := killPool(t, 60)
	gone := mustBackupHost(t, c, pool[:40], "a")
	kept := mustBackupHost(t, c, pool[20:], "b")

	ret := holdfastv1connect.NewRetentionServiceClient(http.DefaultClient, url)
	auth := func(r connect.AnyRequest) { r.Header().Set("Authorization", "Bearer "+token) }
	fr := connect.NewRequest(&holdfastv1.ForgetRequest{Repo: "db", Ids: [][]byte{gone[:]}})
	auth(fr)
	if _, err := ret.Forget(context.Background(), fr); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		req := connect.NewRequest(&holdfastv1.CollectGarbageRequest{Repo: "db", DryRun: dry})
		auth(req)
		resp, err := ret.CollectGarbage(context.Background(), req)
		if err != nil {
			t.Fatalf("gc (dry run %v): %v", dry, err)
		}
		r := resp.Msg.GetReport()
		if r.GetDryRun() != dry || r.GetSnapshots() != 1 || r.GetChunksLive() != 40 || r.GetChunksInGrace() != 20 ||
			r.GetChunksFreed() != 0 || r.GetBytesFreed() != 0 {
			t.Fatalf("gc (dry run %v): %+v", dry, r)
		}
	}
	if err := c.verify(context.Background(), kept, pool[20:]); err != nil {
		t.Fatalf("surviving snapshot after gc: %v", err)
	}
}

// startCmdGrace starts holdfastd with the shortest GC grace it accepts.
func startCmdGrace(t *testing.T, bin, data string) (*exec.Cmd, string) {
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--gc-grace", "1m")
	return cmd, startCmd(t, cmd)
}

func mustBackupHost(t *testing.T, c *killClient, set []killChunk, host string) [32]byte {
	t.Helper()
	id, err := c.backup(context.Background(), set, host)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
