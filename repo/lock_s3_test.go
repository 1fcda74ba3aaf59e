package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestLockS3ObjectLock runs the engine on three buckets of a real S3
// server (versitygw) with Object Lock enabled. After a compliance lock,
// every shard of the snapshot's packs and its meta objects carry
// COMPLIANCE retention until the lock's end, and the S3 server itself
// refuses to delete such a version, even with the governance bypass. A
// governance lock on another snapshot sets GOVERNANCE retention.
func TestLockS3ObjectLock(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t, s3test.Options{})
	var stores []erasure.Store
	buckets := map[uint16]string{}
	for i := range 3 {
		bucket := srv.NewBucket(t, true)
		b, err := s3.New(ctx, srv.Config(bucket, "store"))
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: b})
		buckets[uint16(i)] = bucket
	}
	cfg := testConfig(t, stores, 2, 1)
	r := openRepo(t, cfg)
	defer r.Close(ctx)
	repoID, err := r.CreateRepository(ctx, "s3lock")
	if err != nil {
		t.Fatal(err)
	}
	var snaps []Snapshot
	var firstChunks []chunk
	for i := range 3 {
		chunks := makeChunks(t, fmt.Sprint("s3lock-", i), 4, 8<<10)
		putAll(t, r, repoID, chunks)
		if i == 0 {
			firstChunks = chunks
		}
		if i == 2 { // shares every chunk of snapshot 0
			chunks = append(chunks, firstChunks...)
		}
		h, refs := headerFor(t, chunks, fmt.Sprint("h", i))
		id, err := r.CommitSnapshot(ctx, repoID, h, RefsFromSlice(refs))
		if err != nil {
			t.Fatal(err)
		}
		s, err := r.GetSnapshot(ctx, repoID, id)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	client := srv.Client()
	head := func(sid uint16, name string) *s3sdk.HeadObjectOutput {
		t.Helper()
		out, err := client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(buckets[sid]), Key: aws.String("store/" + name)})
		if err != nil {
			t.Fatalf("HeadObject %s on store %d: %v", name, sid, err)
		}
		return out
	}
	// objects lists every object a lock on s must retain, with its stores.
	objects := func(s Snapshot) map[string][]uint16 {
		t.Helper()
		out := map[string][]uint16{}
		ret := r.newRetention(ctx, repoID, "s3lock", indexkey.LockCompliance, time.Now())
		packs, err := ret.packsOf(s)
		if err != nil || len(packs) == 0 {
			t.Fatalf("packs: %d, %v", len(packs), err)
		}
		for id := range packs {
			rec, err := r.idx.GetPack(repoID, id)
			if err != nil {
				t.Fatal(err)
			}
			for i, sid := range rec.Stores {
				out[shard.ObjectName("s3lock", id, i)] = []uint16{sid}
			}
		}
		for _, name := range []string{headerObject("s3lock", s.ID), lockObject("s3lock", s.ID)} {
			out[name] = r.metaStores(name)
		}
		out[s.refs.Name] = s.refs.Stores
		return out
	}

	until := time.Now().Add(time.Hour).Truncate(time.Second)
	for i, mode := range []indexkey.LockMode{indexkey.LockCompliance, indexkey.LockGovernance} {
		if _, err := r.SetLock(ctx, repoID, snaps[i].ID, mode, until, time.Now()); err != nil {
			t.Fatalf("%s lock: %v", mode, err)
		}
	}
	want := map[int]types.ObjectLockMode{0: types.ObjectLockModeCompliance, 1: types.ObjectLockModeGovernance}
	var shardName string
	var shardStore uint16
	for i, s := range snaps[:2] {
		for name, sids := range objects(s) {
			for _, sid := range sids {
				h := head(sid, name)
				got := aws.ToTime(h.ObjectLockRetainUntilDate)
				// Snapshots may share a pack: the compliance lock then wins.
				if h.ObjectLockMode != want[i] && h.ObjectLockMode != types.ObjectLockModeCompliance || got.Before(until) {
					t.Errorf("snapshot %d: %s on store %d: %q until %v, want %q ≥ %v", i, name, sid, h.ObjectLockMode, got, want[i], until)
				}
				if i == 0 && shardName == "" && len(sids) == 1 {
					shardName, shardStore = name, sid
				}
			}
		}
	}
	if shardName == "" {
		t.Fatal("no shard found to attack")
	}
	// A raw DeleteObject of the shard's version, governance bypass or not,
	// is refused by the S3 server.
	version := head(shardStore, shardName).VersionId
	for _, bypass := range []bool{false, true} {
		_, err := client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{
			Bucket: aws.String(buckets[shardStore]), Key: aws.String("store/" + shardName),
			VersionId: version, BypassGovernanceRetention: aws.Bool(bypass),
		})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Fatalf("DeleteObject of a compliance-retained shard version (bypass %v): %v, want AccessDenied", bypass, err)
		}
	}
	// Extending the compliance lock extends the retention.
	later := until.Add(time.Hour)
	if _, err := r.SetLock(ctx, repoID, snaps[0].ID, indexkey.LockCompliance, later, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToTime(head(shardStore, shardName).ObjectLockRetainUntilDate); got.Before(later) {
		t.Fatalf("after extension: retained until %v, want ≥ %v", got, later)
	}
	// A governance lock on snapshot 2, which shares snapshot 0's packs,
	// reaching past the compliance lock: S3 will not turn those shards'
	// compliance retention into governance, so they are extended in
	// compliance mode (stricter, never weaker); snapshot 2's own shards
	// get governance.
	gov := later.Add(time.Hour)
	if _, err := r.SetLock(ctx, repoID, snaps[2].ID, indexkey.LockGovernance, gov, time.Now()); err != nil {
		t.Fatalf("governance lock over compliance-retained shards: %v", err)
	}
	h := head(shardStore, shardName)
	if h.ObjectLockMode != types.ObjectLockModeCompliance || aws.ToTime(h.ObjectLockRetainUntilDate).Before(gov) {
		t.Fatalf("shared shard: %q until %v, want COMPLIANCE ≥ %v", h.ObjectLockMode, aws.ToTime(h.ObjectLockRetainUntilDate), gov)
	}
	modes := map[types.ObjectLockMode]int{}
	for name, sids := range objects(snaps[2]) {
		for _, sid := range sids {
			h := head(sid, name)
			if aws.ToTime(h.ObjectLockRetainUntilDate).Before(gov) {
				t.Errorf("snapshot 2: %s on store %d retained until %v, want ≥ %v", name, sid, aws.ToTime(h.ObjectLockRetainUntilDate), gov)
			}
			modes[h.ObjectLockMode]++
		}
	}
	if modes[types.ObjectLockModeGovernance] == 0 || modes[types.ObjectLockModeCompliance] == 0 {
		t.Fatalf("snapshot 2's objects by retention mode: %v, want both (own shards governance, shared compliance)", modes)
	}
}
