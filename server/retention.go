package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/gc/policy"
	"github.com/holdfast-backup/holdfast/repo"
)

// MaxForgetIDs bounds the snapshot IDs one Forget names.
const MaxForgetIDs = 10000

// RetentionService forgets, locks and unlocks snapshots and runs GC.
type RetentionService struct{ *Server }

var _ holdfastv1connect.RetentionServiceHandler = (*RetentionService)(nil)

// Forget removes the named snapshots and those the policy does not keep,
// and reports every decision. Locks are checked twice: named snapshots
// before anything is deleted (one locked name refuses the whole request),
// and each deletion again under the engine's lock mutex, so a lock set
// during the evaluation still wins.
func (s *RetentionService) Forget(ctx context.Context, req *connect.Request[holdfastv1.ForgetRequest]) (*connect.Response[holdfastv1.ForgetResponse], error) {
	const op = "Forget"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActForget)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	named, p, err := forgetArgs(req.Msg)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	now := s.now()
	all, err := s.policySnapshots(ctx, repoID)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	plan, err := planForget(all, named, p, now)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	resp := &holdfastv1.ForgetResponse{DryRun: req.Msg.GetDryRun(), Kept: plan.kept}
	for _, v := range plan.removed {
		if !req.Msg.GetDryRun() {
			err := s.repo.ForgetSnapshot(ctx, repoID, format.ID(v.Id), now)
			if errors.Is(err, repo.ErrLocked) || errors.Is(err, repo.ErrLockRefused) {
				v.Reasons = []string{"locked while forget ran"}
				resp.Kept = append(resp.Kept, v)
				continue
			}
			if err != nil {
				return nil, toConnect(s.log, op, fmt.Errorf("after forgetting %d snapshots: %w", len(resp.Removed), err))
			}
		}
		resp.Removed = append(resp.Removed, v)
	}
	if !req.Msg.GetDryRun() {
		s.log.Info("forget", "repo", req.Msg.GetRepo(), "removed", len(resp.Removed), "kept", len(resp.Kept))
	}
	return connect.NewResponse(resp), nil
}

// forgetArgs validates a ForgetRequest: IDs, and a policy with at least one
// keep rule (an empty policy would forget everything unlocked).
func forgetArgs(m *holdfastv1.ForgetRequest) ([]format.ID, *policy.Policy, error) {
	named, err := parseIDs(m.GetIds(), MaxForgetIDs, "ids")
	if err != nil {
		return nil, nil, err
	}
	pp := m.GetPolicy()
	if pp == nil {
		if len(named) == 0 {
			return nil, nil, fmt.Errorf("%w: name snapshots or give a policy", errBadRequest)
		}
		return named, nil, nil
	}
	w := pp.GetKeepWithin()
	p := &policy.Policy{
		Last: int(pp.GetKeepLast()), Hourly: int(pp.GetKeepHourly()), Daily: int(pp.GetKeepDaily()),
		Weekly: int(pp.GetKeepWeekly()), Monthly: int(pp.GetKeepMonthly()), Yearly: int(pp.GetKeepYearly()),
		Within: policy.Span{Years: int(w.GetYears()), Months: int(w.GetMonths()), Days: int(w.GetDays()), Hours: int(w.GetHours())},
	}
	for _, ts := range pp.GetTags() {
		if len(ts.GetTags()) > 0 {
			p.Tags = append(p.Tags, ts.GetTags())
		}
	}
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if p.Empty() {
		return nil, nil, fmt.Errorf("%w: the policy has no keep rule, so it would forget every snapshot; give at least one", errBadRequest)
	}
	return named, p, nil
}

// policySnapshots reads every snapshot's clear header and lock.
func (s *RetentionService) policySnapshots(ctx context.Context, repoID uint32) ([]policy.Snapshot, error) {
	var out []policy.Snapshot
	err := s.repo.Snapshots(ctx, repoID, func(snap repo.Snapshot) error {
		h, err := snapshot.Decode(snap.Header)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", snap.ID.Short(), err)
		}
		ps := policy.Snapshot{ID: snap.ID.String(), Time: time.Unix(0, h.Time), Host: h.Host,
			SourceKind: h.Source.Kind, SourceName: h.Source.Name, Tags: h.Tags}
		l, has, err := s.repo.GetLock(repoID, snap.ID)
		if err != nil {
			return err
		}
		if has {
			ps.LockedUntil, ps.LockMode = l.Until, l.Mode.String()
		}
		out = append(out, ps)
		return nil
	})
	return out, err
}

// forgetPlan is what Forget will remove and keep.
type forgetPlan struct {
	removed, kept []*holdfastv1.SnapshotVerdict
}

// planForget decides: named snapshots go (unless locked: then the whole
// request is refused), the policy decides about the others.
func planForget(all []policy.Snapshot, named []format.ID, p *policy.Policy, now time.Time) (forgetPlan, error) {
	var plan forgetPlan
	byID := map[string]policy.Snapshot{}
	for _, s := range all {
		byID[s.ID] = s
	}
	isNamed := map[string]bool{}
	for _, id := range named {
		s, ok := byID[id.String()]
		if !ok {
			return plan, fmt.Errorf("snapshot %s: %w", id.Short(), repo.ErrNotFound)
		}
		if !s.LockedUntil.IsZero() {
			mode := indexkey.LockGovernance
			if s.LockMode == indexkey.LockCompliance.String() {
				mode = indexkey.LockCompliance
			}
			if err := repo.ForgetRefusal(id, indexkey.LockRecord{Mode: mode, Until: s.LockedUntil}, now); err != nil {
				return plan, err
			}
		}
		if !isNamed[s.ID] {
			isNamed[s.ID] = true
			plan.removed = append(plan.removed, verdict(s, []string{"named"}))
		}
	}
	if p == nil {
		return plan, nil
	}
	rest := make([]policy.Snapshot, 0, len(all))
	for _, s := range all {
		if !isNamed[s.ID] {
			rest = append(rest, s)
		}
	}
	for _, d := range policy.Apply(rest, *p, now) {
		if d.Keep {
			plan.kept = append(plan.kept, verdict(d.Snapshot, d.Reasons))
		} else {
			plan.removed = append(plan.removed, verdict(d.Snapshot, []string{"policy"}))
		}
	}
	return plan, nil
}

func verdict(s policy.Snapshot, reasons []string) *holdfastv1.SnapshotVerdict {
	id, _ := format.ParseID(s.ID)
	v := &holdfastv1.SnapshotVerdict{Id: id[:], TimeUnixNano: s.Time.UnixNano(), Host: s.Host,
		SourceKind: s.SourceKind, SourceName: s.SourceName, Tags: s.Tags, Reasons: reasons}
	if !s.LockedUntil.IsZero() {
		v.Lock = &holdfastv1.Lock{Mode: lockModeFromName(s.LockMode), UntilUnixNano: s.LockedUntil.UnixNano()}
	}
	return v
}

func lockModeFromName(m string) holdfastv1.LockMode {
	switch m {
	case "governance":
		return holdfastv1.LockMode_LOCK_MODE_GOVERNANCE
	case "compliance":
		return holdfastv1.LockMode_LOCK_MODE_COMPLIANCE
	}
	return holdfastv1.LockMode_LOCK_MODE_UNSPECIFIED
}

// CollectGarbage runs the injected collector (Options.CollectGarbage).
func (s *RetentionService) CollectGarbage(ctx context.Context, req *connect.Request[holdfastv1.CollectGarbageRequest]) (*connect.Response[holdfastv1.CollectGarbageResponse], error) {
	const op = "CollectGarbage"
	repoID, err := s.gcAllowed(op, req.Header(), req.Msg.GetRepo())
	if err != nil {
		return nil, err
	}
	rep, err := s.gc(ctx, repoID, req.Msg.GetDryRun(), nil)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.CollectGarbageResponse{Report: rep}), nil
}

// gcAllowed authorizes a garbage collection of repo (ActForget) and checks
// that this server can collect; it returns the repository's ID or the
// Connect error to send.
func (s *RetentionService) gcAllowed(op string, h http.Header, repo string) (uint32, error) {
	_, repoID, err := s.auth.authorize(h, repo, ActForget)
	if err != nil {
		return 0, toConnect(s.log, op, err)
	}
	if s.gc == nil {
		return 0, connect.NewError(connect.CodeUnimplemented, errors.New("garbage collection is not available on this server yet"))
	}
	return repoID, nil
}

// gcProgressEvery is the most often a phase's progress is sent.
const gcProgressEvery = 500 * time.Millisecond

// CollectGarbageStream is CollectGarbage with progress messages, the last
// one holding the report.
func (s *RetentionService) CollectGarbageStream(ctx context.Context, req *connect.Request[holdfastv1.CollectGarbageStreamRequest], stream *connect.ServerStream[holdfastv1.CollectGarbageStreamResponse]) error {
	const op = "CollectGarbageStream"
	repoID, err := s.gcAllowed(op, req.Header(), req.Msg.GetRepo())
	if err != nil {
		return err
	}
	// A failed send means the client is gone; the collection then stops
	// through ctx like an interrupted unary call.
	send := func(p GCProgress) {
		_ = stream.Send(&holdfastv1.CollectGarbageStreamResponse{Progress: &holdfastv1.GCProgress{
			Phase: p.Phase, Done: uint64(max(p.Done, 0)), Total: uint64(max(p.Total, 0))}})
	}
	send(GCProgress{Phase: "start"})
	var last GCProgress
	var sent time.Time
	progress := func(p GCProgress) {
		if now := s.now(); p.Phase != last.Phase || now.Sub(sent) >= gcProgressEvery || p.Total > 0 && p.Done == p.Total {
			send(p)
			sent = now
		}
		last = p
	}
	rep, err := s.gc(ctx, repoID, req.Msg.GetDryRun(), progress)
	if err != nil {
		return toConnect(s.log, op, err)
	}
	return stream.Send(&holdfastv1.CollectGarbageStreamResponse{Report: rep})
}
