package s3test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/holdfast-backup/holdfast/repo/backend/s3"
)

// Config returns a ready store configuration for bucket and prefix, with the
// smallest part size S3 allows so that tests exercise multipart uploads
// cheaply.
func (s *Server) Config(bucket, prefix string) s3.Config {
	return s3.Config{
		Bucket:     bucket,
		Prefix:     prefix,
		Endpoint:   s.Endpoint,
		Region:     s.Region,
		PathStyle:  true,
		AccessKey:  s.AccessKey,
		SecretKey:  s.SecretKey,
		PartSize:   s3.MinPartSize,
		MaxRetries: 2,
		MaxBackoff: 200 * time.Millisecond,
	}
}

// Client returns a raw SDK client for the server, for what the store
// deliberately cannot do (versions, bypassing the store's checks).
func (s *Server) Client() *s3sdk.Client {
	return s3sdk.New(s3sdk.Options{
		BaseEndpoint:               aws.String(s.Endpoint),
		Region:                     s.Region,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates a bucket, with Object Lock (and so versioning)
// enabled if objectLock is set.
func (s *Server) CreateBucket(t testing.TB, name string, objectLock bool) {
	t.Helper()
	in := &s3sdk.CreateBucketInput{Bucket: aws.String(name)}
	if objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := s.Client().CreateBucket(testContext(t), in); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
}

// NewBucket creates a bucket with a fresh name and returns the name.
func (s *Server) NewBucket(t testing.TB, objectLock bool) string {
	t.Helper()
	name := fmt.Sprintf("holdfast-%d", s.buckets.Add(1))
	s.CreateBucket(t, name, objectLock)
	return name
}

// NewBackend returns a store on a fresh bucket, under the prefix "store".
func (s *Server) NewBackend(t testing.TB, objectLock bool) *s3.Backend {
	t.Helper()
	b, err := s3.New(testContext(t), s.Config(s.NewBucket(t, objectLock), "store"))
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return b
}
