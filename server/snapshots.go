package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// MaxSnapshotPage is the default and largest ListSnapshots page.
const MaxSnapshotPage = 1000

// SnapshotService lists, reads and deletes snapshots.
type SnapshotService struct{ *Server }

var _ holdfastv1connect.SnapshotServiceHandler = (*SnapshotService)(nil)

// ListSnapshots returns one page of snapshots in ID order. The page token is
// the last ID of the previous page: stateless for the server, and stable
// when snapshots are added or deleted between pages (none is repeated;
// those added behind the cursor are simply not seen).
func (s *SnapshotService) ListSnapshots(ctx context.Context, req *connect.Request[holdfastv1.ListSnapshotsRequest]) (*connect.Response[holdfastv1.ListSnapshotsResponse], error) {
	const op = "ListSnapshots"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActList)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	size := int(req.Msg.GetPageSize())
	if size == 0 || size > MaxSnapshotPage {
		size = MaxSnapshotPage
	}
	var after format.ID
	if tok := req.Msg.GetPageToken(); len(tok) > 0 {
		if after, err = parseID(tok, "page_token"); err != nil {
			return nil, toConnect(s.log, op, err)
		}
	}
	resp := &holdfastv1.ListSnapshotsResponse{}
	// One more than the page, to know whether another page follows without
	// handing out a token that leads to an empty page.
	more := false
	err = s.repo.SnapshotsAfter(ctx, repoID, after, size+1, func(snap repo.Snapshot) error {
		if len(resp.Snapshots) == size {
			more = true
			return nil
		}
		pb, err := s.snapshotProto(repoID, snap)
		resp.Snapshots = append(resp.Snapshots, pb)
		return err
	})
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if more {
		resp.NextPageToken = resp.Snapshots[len(resp.Snapshots)-1].GetId()
	}
	return connect.NewResponse(resp), nil
}

// GetSnapshot returns one snapshot.
func (s *SnapshotService) GetSnapshot(ctx context.Context, req *connect.Request[holdfastv1.GetSnapshotRequest]) (*connect.Response[holdfastv1.GetSnapshotResponse], error) {
	const op = "GetSnapshot"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActList)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	id, err := parseID(req.Msg.GetId(), "id")
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	snap, err := s.repo.GetSnapshot(ctx, repoID, id)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	pb, err := s.snapshotProto(repoID, snap)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.GetSnapshotResponse{Snapshot: pb}), nil
}

// ReadRefs streams a snapshot's reference list, verified by the engine, in
// batches of RefsBatchIDs.
func (s *SnapshotService) ReadRefs(ctx context.Context, req *connect.Request[holdfastv1.ReadRefsRequest], stream *connect.ServerStream[holdfastv1.ReadRefsResponse]) error {
	const op = "ReadRefs"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActRead)
	if err != nil {
		return toConnect(s.log, op, err)
	}
	id, err := parseID(req.Msg.GetId(), "id")
	if err != nil {
		return toConnect(s.log, op, err)
	}
	snap, err := s.repo.GetSnapshot(ctx, repoID, id)
	if err != nil {
		return toConnect(s.log, op, err)
	}
	batch := make([][]byte, 0, RefsBatchIDs)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := stream.Send(&holdfastv1.ReadRefsResponse{Ids: batch})
		batch = batch[:0] // Send has marshalled the message
		return err
	}
	err = s.repo.ReadRefs(ctx, snap, func(ref format.ID) error {
		batch = append(batch, ref[:])
		if len(batch) == RefsBatchIDs {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return toConnect(s.log, op, err)
}

// DeleteSnapshot deletes a snapshot record and its objects; space returns
// with GC. It is forget of one snapshot (repo.ForgetSnapshot): an active
// compliance lock refuses it with permission_denied, an active governance
// lock with failed_precondition, and an expired lock is removed with it.
func (s *SnapshotService) DeleteSnapshot(ctx context.Context, req *connect.Request[holdfastv1.DeleteSnapshotRequest]) (*connect.Response[holdfastv1.DeleteSnapshotResponse], error) {
	const op = "DeleteSnapshot"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActPrune)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	id, err := parseID(req.Msg.GetId(), "id")
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if err := s.repo.ForgetSnapshot(ctx, repoID, id, s.now()); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.DeleteSnapshotResponse{}), nil
}

// snapshotProto converts an engine snapshot and adds its lock, if any.
func (s *Server) snapshotProto(repoID uint32, snap repo.Snapshot) (*holdfastv1.Snapshot, error) {
	pb := &holdfastv1.Snapshot{
		Id:                snap.ID[:],
		Header:            snap.Header,
		CommittedUnixNano: snap.Committed.UnixNano(),
	}
	l, err := s.repo.Index().GetLock(repoID, snap.ID)
	if errors.Is(err, index.ErrNotFound) {
		return pb, nil
	}
	if err != nil {
		return nil, err
	}
	pb.Lock = &holdfastv1.Lock{Mode: lockModeProto(l.Mode), UntilUnixNano: l.Until.UnixNano()}
	return pb, nil
}

func lockModeProto(m indexkey.LockMode) holdfastv1.LockMode {
	switch m {
	case indexkey.LockGovernance:
		return holdfastv1.LockMode_LOCK_MODE_GOVERNANCE
	case indexkey.LockCompliance:
		return holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
	}
	return holdfastv1.LockMode_LOCK_MODE_UNSPECIFIED
}
