package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/internal/rpccodec"
)

// UploadService is the incremental upload protocol (SPEC.md §12.3):
// sessions, missing-chunk negotiation, chunk upload and snapshot commit.
// Session bookkeeping is in sessions.go.
type UploadService struct{ *Server }

var _ holdfastv1connect.UploadServiceHandler = (*UploadService)(nil)

// BeginSession opens an upload session with a lease.
func (s *UploadService) BeginSession(_ context.Context, req *connect.Request[holdfastv1.BeginSessionRequest]) (*connect.Response[holdfastv1.BeginSessionResponse], error) {
	const op = "BeginSession"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActUpload)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	sid, lease, err := s.beginSession(repoID)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.BeginSessionResponse{
		SessionId: sid[:], LeaseUntilUnixNano: lease.UnixNano(),
	}), nil
}

// KeepAlive extends a live session's lease. An expired session cannot be
// revived: its pins may already be gone.
func (s *UploadService) KeepAlive(_ context.Context, req *connect.Request[holdfastv1.KeepAliveRequest]) (*connect.Response[holdfastv1.KeepAliveResponse], error) {
	const op = "KeepAlive"
	repoID, sid, err := s.session(req.Header(), req.Msg.GetRepo(), req.Msg.GetSessionId())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	lease, err := s.renewSession(repoID, sid)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.KeepAliveResponse{LeaseUntilUnixNano: lease.UnixNano()}), nil
}

// FilterMissing answers which IDs the repository lacks and pins the rest for
// the session before answering, so that GC cannot delete a chunk between
// "you need not upload it" and the commit that references it.
func (s *UploadService) FilterMissing(_ context.Context, req *connect.Request[holdfastv1.FilterMissingRequest]) (*connect.Response[holdfastv1.FilterMissingResponse], error) {
	const op = "FilterMissing"
	repoID, sid, err := s.session(req.Header(), req.Msg.GetRepo(), req.Msg.GetSessionId())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	ids, err := parseIDs(req.Msg.GetIds(), MaxFilterIDs, "ids")
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if _, err := s.liveSession(repoID, sid); err != nil { // fail before the lookup
		return nil, toConnect(s.log, op, err)
	}
	// The presence check and the pin batch form one step that GC's seal
	// cannot split (SPEC.md §13.6): a chunk reported present is pinned
	// before GC can decide it is dead.
	release := s.repo.GCShared(repoID)
	defer release()
	missing, err := s.repo.Missing(repoID, ids)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	// missing is the subsequence of ids that is absent, in order, so one
	// walk splits ids into missing and present.
	present := make([]format.ID, 0, len(ids)-len(missing))
	out := make([][]byte, 0, len(missing))
	j := 0
	for i, id := range ids {
		if j < len(missing) && missing[j] == id {
			out = append(out, req.Msg.Ids[i])
			j++
			continue
		}
		present = append(present, id)
	}
	if err := s.pinPresent(repoID, sid, present); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.FilterMissingResponse{Missing: out}), nil
}

// PutChunks stores uploaded envelopes. Each message is checked whole (IDs,
// checksums, envelope headers) before any of its chunks is stored, so a bad
// message stores nothing of itself; what earlier messages stored stays. The
// chunks of each message, stored or deduplicated, are pinned before the
// response. A receiver goroutine reads and checks the next message while
// this one stores the previous (checksums and pack appends are both
// CPU-bound, so they overlap on two cores).
func (s *UploadService) PutChunks(ctx context.Context, stream *connect.ClientStream[holdfastv1.PutChunksRequest]) (*connect.Response[holdfastv1.PutChunksResponse], error) {
	const op = "PutChunks"
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, toConnect(s.log, op, err)
		}
		if _, err := s.auth.authenticate(stream.RequestHeader()); err != nil {
			return nil, toConnect(s.log, op, err)
		}
		return nil, toConnect(s.log, op, fmt.Errorf("%w: the stream carried no message", errBadRequest))
	}
	first := stream.Msg()
	repoID, sid, err := s.session(stream.RequestHeader(), first.GetRepo(), first.GetSessionId())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if _, err := s.liveSession(repoID, sid); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan putMsg, putReadAhead)
	var recvErr error // set before msgs is closed
	go func() {
		defer close(msgs)
		recvErr = receivePuts(ctx, stream, first, sid, msgs)
	}()
	var resp holdfastv1.PutChunksResponse
	var storeErr error
	var lastPinned []format.ID // the IDs of the last message pinned, unsynced
	for m := range msgs {
		if storeErr == nil {
			storeErr = s.storePut(ctx, repoID, sid, m, &resp)
			if storeErr != nil {
				cancel() // stop the receiver; drain what it already queued
			} else {
				lastPinned = m.ids
			}
		}
		// The envelopes came in pooled buffers (rpccodec), and the open
		// pack holds its own copy once storePut has returned.
		rpccodec.Release(m.chunks)
	}
	// Every answer, an error included, promises that the pins committed so
	// far are durable (SPEC.md §12.6). One synced batch after the last
	// message makes them all durable at once, instead of one sync per
	// message.
	if syncErr := s.syncPins(repoID, sid, lastPinned); syncErr != nil && storeErr == nil {
		storeErr = syncErr
	}
	if storeErr != nil {
		return nil, toConnect(s.log, op, storeErr)
	}
	if recvErr != nil {
		// A stream that broke off (not a bad message) most likely means the
		// client or the network died: seal what arrived, so that a rerun
		// (a replication pass, say) finds it durable and does not send it
		// again (SPEC.md §12.5).
		if !errors.Is(recvErr, errBadRequest) {
			s.flushInterrupted(repoID)
		}
		return nil, toConnect(s.log, op, recvErr)
	}
	return connect.NewResponse(&resp), nil
}

// putReadAhead is how many checked messages may wait for the store loop:
// with the one being stored and the one being received, at most
// putReadAhead + 2 messages (MaxMessageBytes each) per stream are in memory.
const putReadAhead = 1

// putMsg is one checked PutChunks message.
type putMsg struct {
	chunks []*holdfastv1.Chunk
	ids    []format.ID
	sums   [][32]byte // the verified checksums, reused as record checksums
}

// receivePuts reads messages, starting with first, checks each whole and
// queues it. It returns nil at the end of the stream.
func receivePuts(ctx context.Context, stream *connect.ClientStream[holdfastv1.PutChunksRequest], first *holdfastv1.PutChunksRequest, sid indexkey.SessionID, out chan<- putMsg) error {
	repoName := first.GetRepo()
	msg := first
	for {
		if msg != first && ((msg.GetRepo() != "" && msg.GetRepo() != repoName) ||
			(len(msg.GetSessionId()) > 0 && !bytes.Equal(msg.GetSessionId(), sid[:]))) {
			return fmt.Errorf("%w: repo and session_id must not change within a stream", errBadRequest)
		}
		ids, sums, err := checkChunks(msg.GetChunks())
		if err != nil {
			return err
		}
		select {
		case out <- putMsg{chunks: msg.GetChunks(), ids: ids, sums: sums}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !stream.Receive() {
			return stream.Err() // nil at io.EOF: the client closed its side
		}
		msg = stream.Msg()
	}
}

// storePut appends one checked message's chunks to the repository's open
// pack and pins them all for the session.
func (s *UploadService) storePut(ctx context.Context, repoID uint32, sid indexkey.SessionID, m putMsg, resp *holdfastv1.PutChunksResponse) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The dedup checks and the pin batch form one step that GC's seal
	// cannot split (SPEC.md §13.6).
	release := s.repo.GCShared(repoID)
	defer release()
	for i, c := range m.chunks {
		stored, err := s.repo.PutChunkSum(ctx, repoID, m.ids[i], c.GetEnvelope(), m.sums[i])
		if err != nil {
			return err
		}
		n := uint64(len(c.GetEnvelope()))
		s.metrics.BytesIn.Add(n)
		if stored {
			resp.Stored++
			resp.BytesStored += n
			s.metrics.ChunksStored.Add(1)
		} else {
			resp.Duplicates++
			s.metrics.ChunksDeduped.Add(1)
		}
	}
	return s.pin(repoID, sid, m.ids, false) // synced by syncPins before the answer
}

// syncPins makes a stream's pins durable before its answer: it pins the
// last message's chunks again, with sync. Pins are plain keys, so pinning
// twice changes nothing but the sync, and a synced write-ahead log holds
// every batch committed before it. Under the GC guard like every pin batch
// (SPEC.md §13.6).
func (s *UploadService) syncPins(repoID uint32, sid indexkey.SessionID, last []format.ID) error {
	if len(last) == 0 {
		return nil
	}
	release := s.repo.GCShared(repoID)
	defer release()
	return s.pin(repoID, sid, last, true)
}

// checkChunks validates every chunk of one message and returns their IDs.
// The checksum catches corruption in transit (or a buggy client) before the
// envelope lands in a pack; the header check refuses what is not an
// envelope at all. Neither can prove the envelope belongs to its ID: only
// the key holder can (SPEC.md §12.3).
func checkChunks(chunks []*holdfastv1.Chunk) ([]format.ID, [][32]byte, error) {
	ids := make([]format.ID, len(chunks))
	sums := make([][32]byte, len(chunks))
	for i, c := range chunks {
		id, err := parseID(c.GetId(), fmt.Sprintf("chunks[%d].id", i))
		if err != nil {
			return nil, nil, err
		}
		sum, err := parseID(c.GetChecksum(), fmt.Sprintf("chunk %s: checksum", id.Short()))
		if err != nil {
			return nil, nil, err
		}
		if blake3.Sum256(c.GetEnvelope()) != sum {
			return nil, nil, fmt.Errorf("%w: chunk %s: checksum does not match the envelope", errBadRequest, id.Short())
		}
		if _, err := seal.ParseHeader(c.GetEnvelope()); err != nil {
			return nil, nil, fmt.Errorf("%w: chunk %s: not a valid envelope: %v", errBadRequest, id.Short(), err)
		}
		ids[i], sums[i] = id, sum
	}
	return ids, sums, nil
}

// Commit commits a snapshot from a header message and a stream of reference
// batches, then ends the session: once the snapshot is committed it
// protects its chunks itself, so the pins are no longer needed.
func (s *UploadService) Commit(ctx context.Context, stream *connect.ClientStream[holdfastv1.CommitRequest]) (*connect.Response[holdfastv1.CommitResponse], error) {
	const op = "Commit"
	var hdr *holdfastv1.CommitHeader
	if stream.Receive() {
		hdr = stream.Msg().GetHeader()
	} else if err := stream.Err(); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if hdr == nil {
		// Authenticate first so an anonymous caller learns nothing but
		// that it needs a token.
		if _, err := s.auth.authenticate(stream.RequestHeader()); err != nil {
			return nil, toConnect(s.log, op, err)
		}
		return nil, toConnect(s.log, op, fmt.Errorf("%w: the first message must be the commit header", errBadRequest))
	}
	repoID, sid, err := s.session(stream.RequestHeader(), hdr.GetRepo(), hdr.GetSessionId())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if _, err := s.liveSession(repoID, sid); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if len(hdr.GetExpectId()) > 0 {
		want, err := parseID(hdr.GetExpectId(), "expect_id")
		if err != nil {
			return nil, toConnect(s.log, op, err)
		}
		if format.ID(blake3.Sum256(hdr.GetHeader())) != want {
			return nil, toConnect(s.log, op, fmt.Errorf("%w: the header does not hash to expect_id %s", errBadRequest, want.Short()))
		}
	}
	// The session's present pins spare the commit most of its lookups
	// (an incremental backup pins its parent's chunks that way).
	id, err := s.repo.CommitSnapshotFor(ctx, repoID, sid, hdr.GetHeader(), refStream(stream))
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.commits.notify(repoID)
	if err := s.endSession(repoID, sid); err != nil {
		// The snapshot is committed; a session left behind only lives
		// until its lease ends and the sweeper drops it.
		s.log.Warn("ending upload session after commit failed", "err", err)
	}
	return connect.NewResponse(&holdfastv1.CommitResponse{SnapshotId: id[:]}), nil
}

// refStream turns the RefsBatch messages after the header into a
// repo.RefSource. Order, count and checksum are the engine's to check; this
// only checks each ID's length and that nothing but batches follows.
func refStream(stream *connect.ClientStream[holdfastv1.CommitRequest]) func() (format.ID, error) {
	var batch [][]byte
	n := 0
	return func() (format.ID, error) {
		for len(batch) == 0 {
			if !stream.Receive() {
				if err := stream.Err(); err != nil {
					return format.ID{}, err
				}
				return format.ID{}, io.EOF
			}
			refs := stream.Msg().GetRefs()
			if refs == nil {
				return format.ID{}, fmt.Errorf("%w: only reference batches may follow the commit header", errBadRequest)
			}
			batch = refs.GetIds()
		}
		id, err := parseID(batch[0], fmt.Sprintf("reference %d", n))
		batch = batch[1:]
		n++
		return id, err
	}
}

// Abort ends a session and drops its pins. Aborting a session that is
// already gone succeeds: the client's intent is met.
func (s *UploadService) Abort(_ context.Context, req *connect.Request[holdfastv1.AbortRequest]) (*connect.Response[holdfastv1.AbortResponse], error) {
	const op = "Abort"
	repoID, sid, err := s.session(req.Header(), req.Msg.GetRepo(), req.Msg.GetSessionId())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if err := s.endSession(repoID, sid); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.flushInterrupted(repoID) // what the session sent stays useful to a retry
	return connect.NewResponse(&holdfastv1.AbortResponse{}), nil
}

// session authorizes an upload request and parses its session ID. It does
// not check that the session is alive; callers do, at the moment it matters.
func (s *UploadService) session(h http.Header, repo string, rawSID []byte) (uint32, indexkey.SessionID, error) {
	_, repoID, err := s.auth.authorize(h, repo, ActUpload)
	if err != nil {
		return 0, indexkey.SessionID{}, err
	}
	sid, err := parseSessionID(rawSID)
	return repoID, sid, err
}
