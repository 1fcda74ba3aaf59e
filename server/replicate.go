package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/pemca"
	"github.com/holdfast-backup/holdfast/server/replication"
)

// ReplicationService pushes repositories to other servers and marks or
// promotes replicas (SPEC.md §12.5). The pushing itself is package
// replication; this is the RPC surface.
type ReplicationService struct{ *Server }

var _ holdfastv1connect.ReplicationServiceHandler = (*ReplicationService)(nil)

// Replicate runs one pass, or with continuous set runs until the caller
// cancels, streaming progress. Repository admin or server admin: pushing a
// repository elsewhere hands its ciphertext and key files to that server.
func (s *ReplicationService) Replicate(ctx context.Context, req *connect.Request[holdfastv1.ReplicateRequest], stream *connect.ServerStream[holdfastv1.ReplicateResponse]) error {
	const op = "Replicate"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActAdmin)
	if err != nil {
		return toConnect(s.log, op, err)
	}
	m := req.Msg
	t := ReplicationTarget{
		Repo: m.GetRepo(), URL: m.GetTargetUrl(), Token: m.GetTargetToken(), TargetRepo: m.GetTargetRepo(),
		Prune: m.GetPrune(), BWLimit: m.GetBwlimit(), Parallel: int(m.GetParallel()),
	}
	if err := t.validate(); err != nil {
		return toConnect(s.log, op, fmt.Errorf("%w: %v", errBadRequest, err))
	}
	if err := s.allowTarget(t.URL); err != nil {
		return toConnect(s.log, op, fmt.Errorf("%w: %v", errDenied, err))
	}
	if pem := m.GetTargetCaPem(); len(pem) > 0 {
		if t.RootCAs, err = pemca.Parse(pem); err != nil {
			return toConnect(s.log, op, fmt.Errorf("%w: target_ca_pem: %v", errBadRequest, err))
		}
	}
	var sendErr error
	p := s.newPusher(repoID, t, func(ev *holdfastv1.ReplicateResponse) {
		if sendErr == nil {
			sendErr = stream.Send(ev)
		}
	})
	if !m.GetContinuous() {
		if _, err := p.Pass(ctx); err != nil {
			p.Stats().Errors.Add(1)
			return s.replicationError(op, err)
		}
		return toConnect(s.log, op, sendErr)
	}
	ctx, cancel := s.untilShutdown(ctx)
	defer cancel()
	wake, unsubscribe := s.commits.subscribe(repoID)
	defer unsubscribe()
	err = p.Run(ctx, replication.Loop{Wake: wake, OnError: func(err error) {
		if sendErr == nil {
			sendErr = stream.Send(&holdfastv1.ReplicateResponse{Error: publicReplicationError(err)})
		}
	}})
	return toConnect(s.log, op, err)
}

// replicationError maps a failed pass. What the target refused keeps the
// target's reason (it never holds the token) under a code the client maps
// to the right exit status; the source's own failures go through toConnect.
func (s *ReplicationService) replicationError(op string, err error) error {
	if !errors.Is(err, replication.ErrTarget) {
		return toConnect(s.log, op, err)
	}
	code := connect.CodeOf(err)
	switch code {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		code = connect.CodePermissionDenied
	case connect.CodeUnknown, connect.CodeCanceled, connect.CodeDeadlineExceeded:
		code = connect.CodeUnavailable
	}
	s.log.Warn("replication pass failed", "op", op, "err", err)
	return connect.NewError(code, errors.New(publicReplicationError(err)))
}

// publicReplicationError is the one-line reason a caller may see: the
// target's answers are public to whoever holds its token; source-side
// details (paths) stay in the log.
func publicReplicationError(err error) string {
	if errors.Is(err, replication.ErrTarget) {
		return err.Error()
	}
	_, public := classify(err)
	return "source: " + public
}

// SetReplica sets or clears a repository's replica flag. Server admin only:
// promotion turns a copy into a repository that takes backups.
func (s *ReplicationService) SetReplica(ctx context.Context, req *connect.Request[holdfastv1.SetReplicaRequest]) (*connect.Response[holdfastv1.SetReplicaResponse], error) {
	const op = "SetReplica"
	if _, _, err := s.auth.authorize(req.Header(), "", ActServerAdmin); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if _, err := s.repo.SetReplica(ctx, req.Msg.GetRepo(), req.Msg.GetReplica()); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.log.Info("repository replica flag set", "repo", req.Msg.GetRepo(), "replica", req.Msg.GetReplica())
	return connect.NewResponse(&holdfastv1.SetReplicaResponse{}), nil
}
