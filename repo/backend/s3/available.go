package s3

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Available checks that the bucket answers (one HeadBucket, no retries,
// at most availableTimeout) and returns nil, or an error matching
// backend.ErrUnavailable. Results are kept for availableTTL, so a metrics
// scrape every few seconds costs the service one request per TTL.
func (b *Backend) Available() error {
	b.avail.mu.Lock()
	defer b.avail.mu.Unlock()
	if now := time.Now(); now.Before(b.avail.until) {
		return b.avail.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), availableTimeout)
	defer cancel()
	_, err := b.client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: aws.String(b.cfg.Bucket)},
		func(o *s3sdk.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		err = wrapErr("check", "bucket", err)
		if !errors.Is(err, backend.ErrUnavailable) {
			err = fmt.Errorf("%w (%w)", err, backend.ErrUnavailable)
		}
	}
	b.avail.err, b.avail.until = err, time.Now().Add(availableTTL)
	return err
}

const (
	availableTimeout = 2 * time.Second
	availableTTL     = 10 * time.Second
)

// availability caches the last Available answer.
type availability struct {
	mu    sync.Mutex
	err   error
	until time.Time
}
