package client

import (
	"context"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// Stats returns what the server holds for the repository (snapshots,
// chunks, packs, live and packed bytes). Any role of the repository may
// ask; no key is needed.
func (c *Conn) Stats(ctx context.Context) (*holdfastv1.GetStatsResponse, error) {
	resp, err := c.Repos.GetStats(ctx, connect.NewRequest(&holdfastv1.GetStatsRequest{Repo: c.Repo()}))
	if err != nil {
		return nil, fromRPC("stats", err)
	}
	return resp.Msg, nil
}
