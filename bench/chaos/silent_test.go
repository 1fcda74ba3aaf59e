package chaos

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
)

// TestChaosSilentS3Store runs the real server over six S3 stores (4+2) on
// a real S3 server, one of them reached through a proxy that starts
// dropping everything: what a partition that drops packets looks like.
// The store refuses nothing; it just never answers. A backup of new data
// must still commit (its shard and meta copies given up on and written
// around the store after the straggler wait, SPEC.md §9.8, §10.8), and
// the new and the previous snapshot must restore bit-exact while the store
// is silent (reads hedge after 2 s and then go around it, §9.9), each
// within bounds far below the S3 client's timeouts. Once the proxy
// forwards again, backups go on.
func TestChaosSilentS3Store(t *testing.T) {
	skipShort(t)
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	hole := srv.Blackhole(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	var stores []string
	for i := range 6 {
		endpoint := srv.Endpoint
		if i == 3 {
			endpoint = hole.Endpoint
		}
		stores = append(stores, fmt.Sprintf("s3://%s/store%d?endpoint=%s&region=%s&path_style=true",
			bucket, i, url.QueryEscape(endpoint), srv.Region))
	}
	f := newFixture(t, stores, 10, 512<<10)
	if _, r := f.takeBackup(f.backup); r.code != 0 {
		t.Fatalf("first backup: %v", r)
	}
	s := newTally(t, "silent-s3-store")
	var restored int64
	var backupTook, restoreTook time.Duration
	for range roundsOf(1, 2) {
		s.rounds++
		hole.Drop.Store(true)
		f.src.mutate()
		start := time.Now()
		if _, r := f.takeBackup(f.backup); r.code != 0 {
			s.fail("backup with a silent store: %v (want it written around the store)", r)
		}
		backupTook = max(backupTook, time.Since(start))
		start = time.Now()
		restored += f.restoreLast(s, "silent")
		restoreTook = max(restoreTook, time.Since(start))
		hole.Drop.Store(false)
		f.src.mutate()
		if _, r := f.takeBackup(f.backup); r.code != 0 {
			s.fail("backup once the store answers again: %v", r)
		}
	}
	// A put hangs for the straggler wait (15 s) after the others are
	// durable, once: later shards and meta copies pass the store over
	// (measured: 15 s). The S3 client alone would wait 60 s per attempt,
	// 5 attempts, per object.
	if backupTook > 90*time.Second {
		s.fail("a backup with a silent store took %s", backupTook)
	}
	if restoreTook > 60*time.Second {
		s.fail("restores with a silent store took %s", restoreTook)
	}
	s.report(itoa(s.rounds)+" backups written around it (longest "+backupTook.Round(time.Second).String()+")",
		mib(restored)+" restored while it was silent (longest "+restoreTook.Round(time.Second).String()+")", "backup resumed")
}
