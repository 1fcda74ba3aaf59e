package main

import (
	"context"
	"testing"
	"time"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestReplicateBandwidthLimit replicates about 24 MiB over four parallel
// streams with --bwlimit 8 MiB/s: the one token bucket the streams share
// must hold the measured rate near the limit.
func TestReplicateBandwidthLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts two holdfastd processes")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	dir := t.TempDir()
	writeTree(t, dir, 31, 24, 1<<20)
	p.backup(t, dir)
	const limit = 8 << 20
	start := time.Now()
	res, err := p.replicate(context.Background(), &holdfastv1.ReplicateRequest{Bwlimit: limit, Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	rate := float64(res.ChunkBytesSent) / elapsed.Seconds()
	t.Logf("bwlimit %d B/s: sent %d bytes in %.2f s = %.0f B/s (%.2f of the limit)", limit, res.ChunkBytesSent, elapsed.Seconds(), rate, rate/limit)
	// The bucket starts with a tenth of a second of burst, so the rate
	// can exceed the limit by a little; far below means it throttles too
	// hard.
	if rate > 1.15*limit || rate < 0.5*limit {
		t.Fatalf("measured %.0f B/s with a limit of %d B/s", rate, limit)
	}
}
