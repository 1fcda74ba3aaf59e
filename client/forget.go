package client

import (
	"context"

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

// CollectGarbage runs garbage collection on the server (with dryRun, only
// reports what it would free).
func (c *Conn) CollectGarbage(ctx context.Context, dryRun bool) (*holdfastv1.GCReport, error) {
	resp, err := c.Retention.CollectGarbage(ctx, connect.NewRequest(&holdfastv1.CollectGarbageRequest{Repo: c.Repo(), DryRun: dryRun}))
	if err != nil {
		return nil, fromRPC("gc", err)
	}
	return resp.Msg.Report, nil
}
