package s3_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
)

// TestObjectLock proves that the server, not our code, enforces a compliance
// retention set through the store: deleting the locked version with a raw
// SDK call is refused.
func TestObjectLock(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "locked", true)
	b, err := s3.New(ctx, srv.Config("locked", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "r/packs/ab/shard.00"
	if err := b.Put(ctx, name, backend.Bytes([]byte("precious shard"))); err != nil {
		t.Fatal(err)
	}
	// Found through a decorator, as the engine will find it.
	r, ok := backend.As[backend.Retainer](faulty.Wrap(b))
	if !ok {
		t.Fatal("As[Retainer] did not find the S3 store's retention capability")
	}
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := r.SetRetention(ctx, name, backend.RetentionCompliance, until); err != nil {
		t.Fatalf("SetRetention: %v", err)
	}

	client := srv.Client()
	key := aws.String("repo/" + name)
	head, err := client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String("locked"), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != types.ObjectLockModeCompliance || !aws.ToTime(head.ObjectLockRetainUntilDate).Equal(until) {
		t.Fatalf("HeadObject: lock mode %q until %v, want COMPLIANCE until %v",
			head.ObjectLockMode, aws.ToTime(head.ObjectLockRetainUntilDate), until)
	}
	if aws.ToString(head.VersionId) == "" {
		t.Fatal("HeadObject: no version ID on an Object Lock bucket")
	}

	// The server refuses to delete the locked version, even asked to bypass
	// governance.
	for _, bypass := range []bool{false, true} {
		_, err = client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{
			Bucket: aws.String("locked"), Key: key, VersionId: head.VersionId,
			BypassGovernanceRetention: aws.Bool(bypass),
		})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Fatalf("DeleteObject of a version under compliance retention (bypass %v): got %v, want AccessDenied", bypass, err)
		}
	}
	// Nor may the retention be shortened.
	err = r.SetRetention(ctx, name, backend.RetentionCompliance, until.Add(-30*time.Minute))
	if !errors.Is(err, backend.ErrPermission) {
		t.Fatalf("shortening a compliance retention: got %v, want ErrPermission", err)
	}
	// Extending is fine.
	if err := r.SetRetention(ctx, name, backend.RetentionCompliance, until.Add(time.Hour)); err != nil {
		t.Fatalf("extending a compliance retention: %v", err)
	}

	// The store's Delete only hides the object behind a delete marker; the
	// locked version survives.
	if err := b.Delete(ctx, name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Stat(ctx, name); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat after Delete: got %v, want ErrNotExist", err)
	}
	got, err := client.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String("locked"), Key: key, VersionId: head.VersionId})
	if err != nil {
		t.Fatalf("GetObject of the locked version after Delete: %v", err)
	}
	got.Body.Close()
}

func TestRetentionWithoutObjectLock(t *testing.T) {
	ctx := t.Context()
	srv := s3test.Start(t, s3test.Options{})
	b := srv.NewBackend(t, false)
	if err := b.Put(ctx, "obj", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	err := b.SetRetention(ctx, "obj", backend.RetentionGovernance, time.Now().Add(time.Hour))
	if err == nil {
		t.Fatal("SetRetention on a bucket without Object Lock succeeded")
	}
	t.Logf("without Object Lock: %v", err)
	err = b.SetRetention(ctx, "absent", backend.RetentionGovernance, time.Now().Add(time.Hour))
	if err == nil {
		t.Fatal("SetRetention of a missing object succeeded")
	}
	t.Logf("missing object: %v", err)
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.SetRetention(ctx2, "obj", backend.RetentionGovernance, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("SetRetention with canceled context: %v", err)
	}
}
