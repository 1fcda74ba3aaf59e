package main

import (
	"context"
	"testing"
	"time"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestReplicateResumesAfterKill9 kills the target and then the source with
// SIGKILL in the middle of a transfer. After each, nothing half-committed
// is visible on the target, the chunks that were durable there are not
// sent again, and a rerun completes with the source's snapshot IDs.
func TestReplicateResumesAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts and kills holdfastd processes")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	ctx := context.Background()

	// Part 1: the target dies once its first pack (32 MiB) is durable.
	dir := t.TempDir()
	writeTree(t, dir, 11, 48, 1<<20)
	first := p.backup(t, dir)
	errc := p.replicateAsync(&holdfastv1.ReplicateRequest{Bwlimit: 12 << 20})
	if !waitFor(60*time.Second, func() bool { return p.dst.durableChunks("web") > 0 }) {
		t.Fatal("no chunk became durable on the target")
	}
	p.dst.kill9()
	if err := <-errc; err == nil {
		t.Fatal("replication succeeded although the target was killed")
	}
	p.dst.start()
	if ids := p.dst.snapshotIDs(p.replToken, "web"); len(ids) != 0 {
		t.Fatalf("target shows %d snapshots after the kill, want none", len(ids))
	}
	survived := p.dst.durableChunks("web")
	total := p.src.durableChunks("web")
	res, err := p.replicate(ctx, &holdfastv1.ReplicateRequest{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(res.ChunksSent) != total-survived || res.SnapshotsCopied != 1 {
		t.Fatalf("rerun after target kill sent %d chunks, want %d (%d of %d were durable): %+v", res.ChunksSent, total-survived, survived, total, res)
	}
	t.Logf("target killed: %d of %d chunks durable, rerun sent %d", survived, total, res.ChunksSent)
	if ids := p.dst.snapshotIDs(p.replToken, "web"); len(ids) != 1 || ids[0] != first {
		t.Fatalf("target snapshots %v, want [%s]", ids, first)
	}

	// Part 2: the source dies mid-stream. The target flushes what the
	// broken streams delivered, so the rerun sends only the rest.
	dir2 := t.TempDir()
	writeTree(t, dir2, 12, 40, 1<<20)
	p.backup(t, dir2)
	before := p.dst.durableChunks("web")
	errc = p.replicateAsync(&holdfastv1.ReplicateRequest{Bwlimit: 8 << 20})
	time.Sleep(2500 * time.Millisecond) // about 20 MiB sent, less than a pack
	p.src.kill9()
	<-errc
	if !waitFor(20*time.Second, func() bool { return p.dst.durableChunks("web") > before }) {
		t.Fatal("the target did not make the interrupted upload's chunks durable")
	}
	after := p.dst.durableChunks("web")
	if ids := p.dst.snapshotIDs(p.replToken, "web"); len(ids) != 1 {
		t.Fatalf("target shows %d snapshots after the source died, want 1", len(ids))
	}
	p.src.start()
	total = p.src.durableChunks("web")
	res, err = p.replicate(ctx, &holdfastv1.ReplicateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(res.ChunksSent) != total-after || res.SnapshotsCopied != 1 {
		t.Fatalf("rerun after source kill sent %d chunks, want %d: %+v", res.ChunksSent, total-after, res)
	}
	t.Logf("source killed: %d chunks had arrived and were flushed, rerun sent %d", after-before, res.ChunksSent)
	if n := len(p.dst.snapshotIDs(p.replToken, "web")); n != 2 {
		t.Fatalf("target has %d snapshots, want 2", n)
	}
}

// replicateAsync runs one pass in the background.
func (p *replPair) replicateAsync(req *holdfastv1.ReplicateRequest) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := p.replicate(context.Background(), req)
		errc <- err
	}()
	return errc
}
