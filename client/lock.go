package client

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// Retention commands (lock, unlock, forget, gc) act on the server's clear
// snapshot headers and need no repository key: a token with the right role
// is the whole authority, so they work without the password.

// ResolveIDs resolves SNAPSHOT arguments (a full ID, a unique prefix of at
// least 8 hex digits, or "latest") with one listing. Headers are decoded
// but their MACs are not checked (that needs the key); a server that lies
// about a header can only mislead the command that asks it to act anyway.
func (c *Conn) ResolveIDs(ctx context.Context, refs []string) ([]format.ID, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	all, err := c.unverifiedSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]format.ID, len(refs))
	for i, ref := range refs {
		s, err := resolveIn(all, ref)
		if err != nil {
			return nil, err
		}
		ids[i] = s.ID
	}
	return ids, nil
}

// unverifiedSnapshots lists every snapshot with its header decoded but not
// MAC-checked, oldest first.
func (c *Conn) unverifiedSnapshots(ctx context.Context) ([]Snapshot, error) {
	var out []Snapshot
	var token []byte
	for {
		resp, err := c.Snapshots.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: c.Repo(), PageToken: token}))
		if err != nil {
			return nil, fromRPC("list snapshots", err)
		}
		for _, s := range resp.Msg.Snapshots {
			id, err := format.IDFromBytes(s.Id)
			if err != nil {
				return nil, fmt.Errorf("server sent a malformed snapshot ID: %w", err)
			}
			h, err := snapshot.Decode(s.Header)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
			}
			out = append(out, Snapshot{ID: id, Header: h, Committed: time.Unix(0, s.CommittedUnixNano), Lock: s.Lock})
		}
		if token = resp.Msg.NextPageToken; len(token) == 0 {
			break
		}
	}
	sortOldestFirst(out)
	return out, nil
}

// Lock sets, extends or (governance only) shortens the lock of snapshot id
// and returns the lock in force.
func (c *Conn) Lock(ctx context.Context, id format.ID, mode holdfastv1.LockMode, until time.Time) (*holdfastv1.Lock, error) {
	resp, err := c.Retention.Lock(ctx, connect.NewRequest(&holdfastv1.LockRequest{
		Repo: c.Repo(), Id: id[:], Mode: mode, UntilUnixNano: until.UnixNano()}))
	if err != nil {
		return nil, fromRPC("lock "+id.Short(), err)
	}
	return resp.Msg.Lock, nil
}

// Unlock lifts the governance lock (or an expired lock) of snapshot id.
func (c *Conn) Unlock(ctx context.Context, id format.ID) error {
	_, err := c.Retention.Unlock(ctx, connect.NewRequest(&holdfastv1.UnlockRequest{Repo: c.Repo(), Id: id[:]}))
	return fromRPC("unlock "+id.Short(), err)
}
