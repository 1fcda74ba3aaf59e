package client

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// Forget asks the server to forget the snapshots ids and those policy
// (nil: none) does not keep; with dryRun it only reports. The server
// evaluates the policy from the clear headers (SPEC.md §13.1).
func (c *Conn) Forget(ctx context.Context, ids []format.ID, policy *holdfastv1.Policy, dryRun bool) (*holdfastv1.ForgetResponse, error) {
	req := &holdfastv1.ForgetRequest{Repo: c.Repo(), Policy: policy, DryRun: dryRun}
	for _, id := range ids {
		req.Ids = append(req.Ids, id[:])
	}
	resp, err := c.Retention.Forget(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fromRPC("forget", err)
	}
	return resp.Msg, nil
}

// GCProgress is where a running collection is: phase mark, seal, packs or
// orphans ("start" before them), done of total units (total 0: unknown).
type GCProgress struct {
	Phase       string
	Done, Total uint64
}

// CollectGarbage runs garbage collection on the server (with dryRun, only
// reports what it would free), calling progress (if not nil) as the server
// reports it. It uses the streaming RPC, whose response starts at once, so
// a collection longer than the HTTP client's wait for a first response
// byte is not cut off; a server without it gets the unary call.
func (c *Conn) CollectGarbage(ctx context.Context, dryRun bool, progress func(GCProgress)) (*holdfastv1.GCReport, error) {
	stream, err := c.Retention.CollectGarbageStream(ctx, connect.NewRequest(&holdfastv1.CollectGarbageStreamRequest{Repo: c.Repo(), DryRun: dryRun}))
	if err == nil {
		defer stream.Close()
		var report *holdfastv1.GCReport
		for stream.Receive() {
			m := stream.Msg()
			if p := m.GetProgress(); p != nil && progress != nil {
				progress(GCProgress{Phase: p.GetPhase(), Done: p.GetDone(), Total: p.GetTotal()})
			}
			if r := m.GetReport(); r != nil {
				report = r
			}
		}
		err = stream.Err()
		if err == nil && report == nil {
			err = errors.New("the server ended the collection without a report")
		}
		if err == nil {
			return report, nil
		}
	}
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		return nil, fromRPC("gc", err)
	}
	resp, err := c.Retention.CollectGarbage(ctx, connect.NewRequest(&holdfastv1.CollectGarbageRequest{Repo: c.Repo(), DryRun: dryRun}))
	if err != nil {
		return nil, fromRPC("gc", err)
	}
	return resp.Msg.Report, nil
}
