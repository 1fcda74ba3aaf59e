package erasure_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestS3StoreStallsReadsHedge: one of six S3 stores sits behind a proxy
// that starts dropping everything after the packs are written. Reads
// return the right bytes within seconds: the first read that needs the
// store waits HedgeAfter and rebuilds its piece from the others, and the
// reads after it go around the store. Without the hedge each would wait
// for the S3 client's timeouts.
func TestS3StoreStallsReadsHedge(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	ctx := context.Background()
	bucket := srv.NewBucket(t, false)
	var stores []erasure.Store
	hole := srv.Blackhole(t)
	for i := range 6 {
		cfg := srv.Config(bucket, fmt.Sprintf("store%d", i))
		if i == 2 {
			cfg.Endpoint = hole.Endpoint
		}
		b, err := s3.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(i + 1), Backend: b})
	}
	const hedgeAfter = 500 * time.Millisecond
	c, err := erasure.New(stores, 4, 2, erasure.Options{HedgeAfter: hedgeAfter})
	if err != nil {
		t.Fatal(err)
	}
	packs := variedPacks(t, rand.New(rand.NewPCG(71, 72)), 4)
	writePacks(t, c, packs)
	checkAllRecords(t, c, packs, "s3 before the partition")

	hole.Drop.Store(true)
	start := time.Now()
	checkAllRecords(t, c, packs, "s3 with a store behind a dropping partition")
	took := time.Since(start)
	t.Logf("reads with the store silent: %s", took)
	if took > 10*hedgeAfter {
		t.Fatalf("reads with a silent store took %s (hedge after %s)", took, hedgeAfter)
	}
}
