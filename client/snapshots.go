package client

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// Snapshot is a committed snapshot whose header the client verified.
type Snapshot struct {
	ID        format.ID
	Header    *snapshot.Header
	Committed time.Time
	Lock      *holdfastv1.Lock // nil when unlocked
}

// Snapshots returns every snapshot of the repository, oldest first (by
// header time). Each header's MAC is verified with the repository key: a
// header the server or anyone without the key altered is refused.
func (r *Repository) Snapshots(ctx context.Context) ([]Snapshot, error) {
	return r.listSnapshots(ctx, func(err error) error { return err })
}

// listSnapshots lists and verifies every snapshot, oldest first. A snapshot
// whose header fails verification is passed to onBad: returning its error
// stops the listing, returning nil skips that snapshot (verify reports it
// as a problem and goes on).
func (r *Repository) listSnapshots(ctx context.Context, onBad func(error) error) ([]Snapshot, error) {
	raw, err := r.Conn.listRawSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	return r.verifySnapshots(raw, onBad)
}

// verifySnapshots verifies the headers of a listing, like listSnapshots.
func (r *Repository) verifySnapshots(raw []*holdfastv1.Snapshot, onBad func(error) error) ([]Snapshot, error) {
	out := make([]Snapshot, 0, len(raw))
	for _, s := range raw {
		snap, err := r.verifySnapshot(s)
		if err != nil {
			if err := onBad(err); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, snap)
	}
	sortOldestFirst(out)
	return out, nil
}

// listRawSnapshots returns the server's listing of every snapshot, all
// pages, as sent: nothing is verified (that needs the key, see
// verifySnapshots).
func (c *Conn) listRawSnapshots(ctx context.Context) ([]*holdfastv1.Snapshot, error) {
	var out []*holdfastv1.Snapshot
	var token []byte
	for {
		resp, err := c.Snapshots.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{
			Repo: c.Repo(), PageToken: token,
		}))
		if err != nil {
			return nil, fromRPC("list snapshots", err)
		}
		out = append(out, resp.Msg.Snapshots...)
		if token = resp.Msg.NextPageToken; len(token) == 0 {
			return out, nil
		}
	}
}

// sortOldestFirst orders snapshots by header time, then ID.
func sortOldestFirst(out []Snapshot) {
	slices.SortStableFunc(out, func(a, b Snapshot) int {
		switch {
		case a.Header.Time < b.Header.Time:
			return -1
		case a.Header.Time > b.Header.Time:
			return 1
		}
		return a.ID.Compare(b.ID)
	})
}

func (r *Repository) verifySnapshot(s *holdfastv1.Snapshot) (Snapshot, error) {
	return checkSnapshot(s, &r.Keys.MAC)
}

// decodeSnapshot decodes a listed snapshot and checks that its header
// hashes to its ID, without the key: its MAC is not checked.
func decodeSnapshot(s *holdfastv1.Snapshot) (Snapshot, error) { return checkSnapshot(s, nil) }

// checkSnapshot decodes s and checks its header's MAC (unless macKey is
// nil) and that the header hashes to its ID.
func checkSnapshot(s *holdfastv1.Snapshot, macKey *[32]byte) (Snapshot, error) {
	id, err := format.IDFromBytes(s.Id)
	if err != nil {
		return Snapshot{}, fmt.Errorf("server sent a malformed snapshot ID: %w", err)
	}
	h, err := snapshot.Decode(s.Header)
	if err == nil && macKey != nil {
		err = h.Verify(*macKey)
	}
	if err == nil && h.ID() != id {
		err = format.Corruptf("header does not hash to its ID")
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	return Snapshot{ID: id, Header: h, Committed: time.Unix(0, s.CommittedUnixNano), Lock: s.Lock}, nil
}

// Resolve finds the snapshot a user named: a full ID, a unique prefix of
// at least 8 hex digits, or "latest" (the newest by header time).
func (r *Repository) Resolve(ctx context.Context, ref string) (Snapshot, error) {
	all, err := r.Snapshots(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return resolveIn(all, ref)
}

func resolveIn(all []Snapshot, ref string) (Snapshot, error) {
	if ref == "latest" {
		if len(all) == 0 {
			return Snapshot{}, fmt.Errorf("snapshot latest: the repository has no snapshots")
		}
		return all[len(all)-1], nil
	}
	ref = strings.ToLower(ref)
	if len(ref) < 8 || len(ref) > 2*format.IDSize {
		return Snapshot{}, fmt.Errorf("snapshot %q: want a full ID, a prefix of at least 8 hex digits, or latest", ref)
	}
	if _, err := hex.DecodeString(ref[:len(ref)&^1]); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: not hex", ref)
	}
	var match []Snapshot
	for _, s := range all {
		if strings.HasPrefix(s.ID.String(), ref) {
			match = append(match, s)
		}
	}
	switch len(match) {
	case 0:
		return Snapshot{}, fmt.Errorf("snapshot %s: no such snapshot", ref)
	case 1:
		return match[0], nil
	}
	return Snapshot{}, fmt.Errorf("snapshot %s: prefix matches %d snapshots; give more digits", ref, len(match))
}
