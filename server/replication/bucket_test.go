package replication

import (
	"context"
	"testing"
	"time"
)

// TestBucketHoldsTheRate takes 5 MiB in chunks of 1 MiB (larger than the
// burst) from a 10 MiB/s bucket: it must take about half a second.
func TestBucketHoldsTheRate(t *testing.T) {
	b := newBucket(10 << 20)
	start := time.Now()
	for range 5 {
		if err := b.wait(context.Background(), 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	// The lower bound is the limit; the upper one only catches a bucket
	// that waits far too long, with room for a busy CI machine.
	if el < 400*time.Millisecond || el > 2*time.Second {
		t.Fatalf("5 MiB at 10 MiB/s took %v, want about 0.4-0.5 s", el)
	}
	if newBucket(0) != nil {
		t.Fatal("rate 0 must mean no bucket")
	}
	if err := (*bucket)(nil).wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
}

func TestBucketWaitStopsOnCancel(t *testing.T) {
	b := newBucket(1 << 10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.wait(ctx, 1<<20); err == nil {
		t.Fatal("a wait of 1000 s returned without error on a cancelled context")
	}
}

func TestJitterStaysInHalfToFull(t *testing.T) {
	for range 1000 {
		d := jitter(time.Second)
		if d < 500*time.Millisecond || d >= time.Second {
			t.Fatalf("jitter(1s) = %v", d)
		}
	}
}
