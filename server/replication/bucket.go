package replication

import (
	"context"
	"sync"
	"time"
)

// bucket is a token bucket over chunk bytes shared by all streams of one
// replication. It lets a caller go into debt and then sleeps off the debt,
// so a chunk larger than the burst never stalls forever, and the average
// rate still holds. A nil bucket does not limit.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

// newBucket returns a bucket of rate bytes/s, or nil for rate <= 0. The
// burst is a tenth of a second of traffic, so a measured rate over a few
// seconds is close to the limit.
func newBucket(rate int64) *bucket {
	if rate <= 0 {
		return nil
	}
	b := &bucket{rate: float64(rate), burst: float64(rate) / 10, last: time.Now()}
	b.tokens = b.burst
	return b
}

// wait takes n bytes from the bucket, sleeping until they are paid for.
func (b *bucket) wait(ctx context.Context, n int) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	debt := -b.tokens
	b.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / b.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
