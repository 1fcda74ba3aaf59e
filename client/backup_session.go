package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// bkRefsPerCommit is how many reference-list IDs one Commit message
// carries (320 KB; the server accepts any batch under its message limit).
const bkRefsPerCommit = 10000

// uploadSession is one upload session on the server, kept alive by a
// goroutine until it is committed or ended.
type uploadSession struct {
	c         *Conn
	id        []byte
	stopAlive context.CancelFunc
	alive     sync.WaitGroup
	committed bool
}

// beginSession opens a session. A role that cannot upload is refused here,
// before any file is read.
func (c *Conn) beginSession(ctx context.Context) (*uploadSession, error) {
	resp, err := c.Upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: c.Repo()}))
	if err != nil {
		return nil, fromRPC("begin upload session", err)
	}
	s := &uploadSession{c: c, id: resp.Msg.SessionId}
	// Renew at a third of the lease, so two renewals may fail before it ends.
	every := time.Until(time.Unix(0, resp.Msg.LeaseUntilUnixNano)) / 3
	every = max(every, time.Second)
	actx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopAlive = stop
	s.alive.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-actx.Done():
				return
			case <-t.C:
				// A failure is not fatal here: if the lease really ended,
				// the next FilterMissing, PutChunks or Commit says so.
				_, _ = c.Upload.KeepAlive(actx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: c.Repo(), SessionId: s.id}))
			}
		}
	})
	return s, nil
}

// end stops the keep-alive and, unless the session was committed, aborts
// it so the server drops its pins at once.
func (s *uploadSession) end() {
	s.stopAlive()
	s.alive.Wait()
	if s.committed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.c.Upload.Abort(ctx, connect.NewRequest(&holdfastv1.AbortRequest{Repo: s.c.Repo(), SessionId: s.id}))
}

// commit completes h with the reference list (refs sorted and unique),
// signs it with macKey and commits it. It returns the snapshot ID.
func (s *uploadSession) commit(ctx context.Context, macKey [32]byte, h *snapshot.Header, refs []format.ID) (format.ID, error) {
	var err error
	h.RefCount = uint64(len(refs))
	if h.RefsHash, err = snapshot.RefsHash(refs); err != nil {
		return format.ID{}, fmt.Errorf("reference list: %w", err)
	}
	if err := h.Validate(); err != nil {
		return format.ID{}, fmt.Errorf("snapshot header: %w", err)
	}
	h.Sign(macKey)
	enc := h.Encode()
	want := h.ID()

	stream := s.c.Upload.Commit(ctx)
	sendErr := stream.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{
		Repo: s.c.Repo(), SessionId: s.id, Header: enc,
	}}})
	for i := 0; sendErr == nil && i < len(refs); i += bkRefsPerCommit {
		batch := refs[i:min(i+bkRefsPerCommit, len(refs))]
		ids := make([][]byte, len(batch))
		for j := range batch {
			ids[j] = batch[j][:]
		}
		sendErr = stream.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: ids}}})
	}
	// A send error means the server ended the stream; its reason comes
	// with the response.
	resp, err := stream.CloseAndReceive()
	if err != nil {
		return format.ID{}, fromRPC("commit snapshot", err)
	}
	if sendErr != nil {
		return format.ID{}, fromRPC("commit snapshot", sendErr)
	}
	got, err := format.IDFromBytes(resp.Msg.SnapshotId)
	if err != nil {
		return format.ID{}, fmt.Errorf("commit snapshot: server answered a malformed ID: %w", err)
	}
	if got != want {
		return format.ID{}, fmt.Errorf("commit snapshot: server answered ID %s, the header hashes to %s", got.Short(), want.Short())
	}
	s.committed = true
	return got, nil
}
