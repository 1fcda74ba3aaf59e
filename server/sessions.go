package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Upload sessions (SPEC.md §12.3) live in the index: a SessionRecord under
// (repository, session ID) and one pin per chunk the session relies on.
// Keying by repository makes a session ID meaningless anywhere else: a
// session of repository A named in a request for B is simply not found.
//
// Pins must never outlive their session, or they would keep chunks alive
// forever (nothing else removes them). So every write that assumes a live
// session (pins, lease renewals) re-checks the session and commits while
// holding s.sessions for reading, and every write that ends sessions
// (commit, abort, sweep) holds it for writing: an end can never slip in
// between the check and the pin batch.

// newSessionID returns 16 random bytes. crypto/rand.Read never fails.
func newSessionID() indexkey.SessionID {
	var sid indexkey.SessionID
	_, _ = rand.Read(sid[:])
	return sid
}

// parseSessionID checks a session ID's length; anything but 16 bytes is a
// malformed request rather than an unknown session.
func parseSessionID(b []byte) (indexkey.SessionID, error) {
	var sid indexkey.SessionID
	if len(b) != len(sid) {
		return sid, fmt.Errorf("%w: session_id must be %d bytes, got %d", errBadRequest, len(sid), len(b))
	}
	copy(sid[:], b)
	return sid, nil
}

// liveSession returns the session's record, or errNoSession when it does
// not exist in this repository or its lease has passed.
func (s *Server) liveSession(repoID uint32, sid indexkey.SessionID) (indexkey.SessionRecord, error) {
	rec, err := s.repo.Index().GetSession(repoID, sid)
	if errors.Is(err, index.ErrNotFound) {
		return rec, errNoSession
	}
	if err != nil {
		return rec, err
	}
	if rec.Lease.Before(s.now()) {
		return rec, errNoSession
	}
	return rec, nil
}

// beginSession records a new session with a fresh lease. The batch is
// synced: a client that was handed a session ID may rely on it after a
// server restart.
func (s *Server) beginSession(repoID uint32) (indexkey.SessionID, time.Time, error) {
	sid := newSessionID()
	now := s.now()
	rec := indexkey.SessionRecord{Created: now, Lease: now.Add(s.lease)}
	b := s.repo.Index().NewBatch()
	defer b.Close()
	b.PutSession(repoID, sid, rec)
	if err := b.Commit(true); err != nil {
		return sid, time.Time{}, err
	}
	s.metrics.SessionsOpened.Add(1)
	return sid, rec.Lease, nil
}

// renewSession extends a live session's lease to now + lease.
func (s *Server) renewSession(repoID uint32, sid indexkey.SessionID) (time.Time, error) {
	s.sessions.RLock()
	defer s.sessions.RUnlock()
	rec, err := s.liveSession(repoID, sid)
	if err != nil {
		return time.Time{}, err
	}
	rec.Lease = s.now().Add(s.lease)
	b := s.repo.Index().NewBatch()
	defer b.Close()
	b.PutSession(repoID, sid, rec)
	return rec.Lease, b.Commit(true)
}

// pin records that session sid relies on chunks ids. It fails with
// errNoSession if the session ended or expired, in which case nothing is
// pinned. The pins must be durable before the caller answers: a chunk
// reported present (or acknowledged as uploaded) must stay protected
// against GC even across a server crash. With sync the batch is synced
// (and with it every batch committed before it: the write-ahead log is
// one sequence); without, the caller must pin again with sync before it
// answers, as PutChunks does once per stream.
func (s *Server) pin(repoID uint32, sid indexkey.SessionID, ids []format.ID, sync bool) error {
	return s.pinAs(repoID, sid, ids, sync, (*index.Batch).Pin)
}

// pinPresent is pin with present pins (synced): for chunks found in the
// index under the GC guard held since, which the session's commit then
// takes as held without looking them up again (SPEC.md §11.4).
func (s *Server) pinPresent(repoID uint32, sid indexkey.SessionID, ids []format.ID) error {
	return s.pinAs(repoID, sid, ids, true, (*index.Batch).PinPresent)
}

func (s *Server) pinAs(repoID uint32, sid indexkey.SessionID, ids []format.ID, sync bool, pin func(*index.Batch, uint32, indexkey.SessionID, format.ID)) error {
	s.sessions.RLock()
	defer s.sessions.RUnlock()
	if _, err := s.liveSession(repoID, sid); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	b := s.repo.Index().NewBatch()
	defer b.Close()
	for _, id := range ids {
		pin(b, repoID, sid, id)
	}
	return b.Commit(sync)
}

// endSession deletes a session and all its pins in one batch. Ending a
// session that does not exist is not an error (Abort is idempotent). The
// batch is not synced: if a crash loses it, the session merely lives until
// its lease ends and the sweeper removes it, which is harmless.
func (s *Server) endSession(repoID uint32, sid indexkey.SessionID) error {
	s.sessions.Lock()
	defer s.sessions.Unlock()
	b := s.repo.Index().NewBatch()
	defer b.Close()
	b.UnpinAll(repoID, sid)
	b.DeleteSession(repoID, sid)
	return b.Commit(false)
}

// SweepSessions deletes every expired upload session of every repository,
// with its pins, and returns how many it deleted. Chunks that only an
// expired session pinned become collectable by GC; uploads of such a
// session fail with NotFound and must start over.
func (s *Server) SweepSessions(ctx context.Context) (int, error) {
	var repos []uint32
	err := s.repo.Index().Repos(func(_ string, r indexkey.RepoRecord) error {
		repos = append(repos, r.ID)
		return nil
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range repos {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := s.sweepRepo(id)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepRepo deletes one repository's expired sessions. It scans and deletes
// under the write lock so that no renewal or pin can land between the scan
// and the deletion; the scan covers sessions only (not pins), so it is
// short.
func (s *Server) sweepRepo(repoID uint32) (int, error) {
	s.sessions.Lock()
	defer s.sessions.Unlock()
	now := s.now()
	b := s.repo.Index().NewBatch()
	defer b.Close()
	n := 0
	err := s.repo.Index().Sessions(repoID, func(sid indexkey.SessionID, rec indexkey.SessionRecord) error {
		if rec.Lease.Before(now) {
			b.UnpinAll(repoID, sid)
			b.DeleteSession(repoID, sid)
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		return 0, err
	}
	if err := b.Commit(false); err != nil {
		return 0, err
	}
	return n, nil
}

// RunSessionSweeper calls SweepSessions every interval until ctx is done.
// Failures are logged and retried at the next tick: a missed sweep only
// delays reclaiming space.
func (s *Server) RunSessionSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.SweepSessions(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("sweeping expired upload sessions failed", "err", err)
		}
		if n > 0 {
			s.log.Info("expired upload sessions removed", "count", n)
		}
	}
}
