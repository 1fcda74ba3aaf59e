package replication

import (
	"context"
	"math/rand/v2"
	"time"
)

// Loop configures continuous replication.
type Loop struct {
	// Wake receives after each commit to the source repository (may be nil).
	Wake <-chan struct{}
	// Rescan is the period of a pass without any wake-up, which also
	// catches commits the notification cannot see; 0 means DefaultRescan.
	Rescan time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed pass; 0 means
	// the defaults.
	MinBackoff, MaxBackoff time.Duration
	// OnError is told about each failed pass (may be nil).
	OnError func(error)
}

// Defaults of Loop.
const (
	DefaultRescan     = time.Minute
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
)

// Run replicates until ctx ends: a pass now, then one after every wake-up
// and every Rescan. A failed pass is retried after a capped exponential
// backoff with jitter, doubling from MinBackoff to MaxBackoff and reset by
// a pass that succeeds, so an unreachable target costs little and is
// caught up soon after it returns. It returns ctx's error.
func (p *Pusher) Run(ctx context.Context, l Loop) error {
	if l.Rescan <= 0 {
		l.Rescan = DefaultRescan
	}
	if l.MinBackoff <= 0 {
		l.MinBackoff = DefaultMinBackoff
	}
	if l.MaxBackoff <= 0 {
		l.MaxBackoff = DefaultMaxBackoff
	}
	l.MaxBackoff = max(l.MaxBackoff, l.MinBackoff)
	backoff := l.MinBackoff
	for {
		_, err := p.Pass(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := l.Rescan
		if err != nil {
			p.stats.Errors.Add(1)
			if l.OnError != nil {
				l.OnError(err)
			}
			wait = jitter(backoff)
			backoff = min(2*backoff, l.MaxBackoff)
		} else {
			backoff = l.MinBackoff
		}
		if err := p.idle(ctx, wait, l.Wake, err != nil); err != nil {
			return err
		}
	}
}

// idle waits for the next pass. After a failure it sits out the whole
// backoff: a new commit does not make an unreachable target reachable.
func (p *Pusher) idle(ctx context.Context, d time.Duration, wake <-chan struct{}, failed bool) error {
	if failed {
		wake = nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-wake:
	}
	return nil
}

// jitter returns a duration in [d/2, d), so many replications that lost
// the same target do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}
