package server

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// Lock sets, extends or shortens a snapshot's lock. The engine applies the
// compliance rules (repo.SetLock) to every caller, server admin included;
// this handler checks the role and the server's maximum lock duration.
func (s *RetentionService) Lock(ctx context.Context, req *connect.Request[holdfastv1.LockRequest]) (*connect.Response[holdfastv1.LockResponse], error) {
	const op = "Lock"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActLock)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	id, err := parseID(req.Msg.GetId(), "id")
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	mode, err := lockModeFromProto(req.Msg.GetMode())
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	now := s.now()
	until := time.Unix(0, req.Msg.GetUntilUnixNano())
	if max := now.Add(s.maxLock); until.After(max) {
		return nil, toConnect(s.log, op, fmt.Errorf("%w: until %s is beyond this server's maximum lock (%s from now, until %s)",
			errBadRequest, until.UTC().Format(time.RFC3339), s.maxLock, max.UTC().Format(time.RFC3339)))
	}
	l, err := s.repo.SetLock(ctx, repoID, id, mode, until, now)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.log.Info("snapshot locked", "repo", req.Msg.GetRepo(), "snapshot", id.String(), "mode", l.Mode.String(), "until", l.Until.UTC())
	return connect.NewResponse(&holdfastv1.LockResponse{Lock: lockProto(l)}), nil
}

// Unlock lifts a governance lock, or an expired lock of either mode.
func (s *RetentionService) Unlock(ctx context.Context, req *connect.Request[holdfastv1.UnlockRequest]) (*connect.Response[holdfastv1.UnlockResponse], error) {
	const op = "Unlock"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActForget)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	id, err := parseID(req.Msg.GetId(), "id")
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	if err := s.repo.RemoveLock(ctx, repoID, id, s.now()); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.log.Info("snapshot unlocked", "repo", req.Msg.GetRepo(), "snapshot", id.String())
	return connect.NewResponse(&holdfastv1.UnlockResponse{}), nil
}

func lockModeFromProto(m holdfastv1.LockMode) (indexkey.LockMode, error) {
	switch m {
	case holdfastv1.LockMode_LOCK_MODE_GOVERNANCE:
		return indexkey.LockGovernance, nil
	case holdfastv1.LockMode_LOCK_MODE_COMPLIANCE:
		return indexkey.LockCompliance, nil
	}
	return 0, fmt.Errorf("%w: mode must be GOVERNANCE or COMPLIANCE", errBadRequest)
}

func lockProto(l indexkey.LockRecord) *holdfastv1.Lock {
	return &holdfastv1.Lock{Mode: lockModeProto(l.Mode), UntilUnixNano: l.Until.UnixNano()}
}
