package server

import (
	"context"
	"sync"
	"time"
)

// commitHub tells continuous replications of a repository that a snapshot
// was committed, so they start a pass within milliseconds instead of
// waiting for their periodic rescan. Notifications coalesce: a subscriber
// that is busy sees one pending wake-up however many commits happened, and
// its next pass picks them all up.
type commitHub struct {
	mu   sync.Mutex
	subs map[uint32]map[chan struct{}]struct{}
}

// subscribe returns a channel that receives after each commit to repoID,
// and a function that ends the subscription.
func (h *commitHub) subscribe(repoID uint32) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[uint32]map[chan struct{}]struct{}{}
	}
	if h.subs[repoID] == nil {
		h.subs[repoID] = map[chan struct{}]struct{}{}
	}
	h.subs[repoID][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[repoID], ch)
	}
}

// notify wakes every subscriber of repoID without blocking the commit.
func (h *commitHub) notify(repoID uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[repoID] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// flushTimeout bounds the flush after an interrupted upload.
const flushTimeout = 2 * time.Minute

// flushInterrupted makes the chunks an interrupted upload stream already
// delivered durable by sealing the repository's open pack. Without it they
// would sit in memory until some later upload filled or committed the pack,
// and an uploader that reconnects would be told by FilterMissing (which
// counts durable chunks only) to send them all again — the resumability
// replication promises (SPEC.md §12.5). It runs after the stream has
// failed, so on a fresh context.
func (s *Server) flushInterrupted(repoID uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := s.repo.Flush(ctx, repoID); err != nil {
		s.log.Warn("flushing the open pack after an interrupted upload failed; its chunks will be uploaded again", "err", err)
	}
}

// BeginShutdown ends the long-lived continuous Replicate streams, which
// would otherwise hold a graceful shutdown for its whole grace period:
// register it with http.Server.RegisterOnShutdown. Idempotent.
func (s *Server) BeginShutdown() { s.stopOnce.Do(func() { close(s.stopping) }) }

// untilShutdown returns ctx, cancelled also when BeginShutdown is called.
// The caller must call the cancel function, which also ends the watcher.
func (s *Server) untilShutdown(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
