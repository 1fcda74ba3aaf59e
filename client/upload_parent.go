package client

import (
	"context"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// pinParent reads the parent's reference list and passes it through
// FilterMissing, in the server's batches of at most 10,000 IDs. Every
// chunk the server holds is pinned for this session, so a garbage
// collection between the two backups or during this one cannot remove
// what unchanged files reuse; those IDs, in ascending order, are the
// known set it returns, which offer and the walker consult without
// another round trip. IDs the server lacks are left out of it: files that
// used them are read again. It needs no key, so it runs while the keys
// are being unwrapped.
func (s *uploadSession) pinParent(ctx context.Context, id format.ID) ([]format.ID, error) {
	stream, err := s.c.Snapshots.ReadRefs(ctx, connect.NewRequest(&holdfastv1.ReadRefsRequest{Repo: s.c.Repo(), Id: id[:]}))
	if err != nil {
		return nil, fromRPC("read parent references", err)
	}
	defer stream.Close()
	var known []format.ID
	var last format.ID
	have := false
	for stream.Receive() {
		ids := stream.Msg().Ids
		for start := 0; start < len(ids); start += bkMaxFilterIDs {
			batch := ids[start:min(start+bkMaxFilterIDs, len(ids))]
			missing, err := s.filterMissing(ctx, batch)
			if err != nil {
				return nil, err
			}
			for i, raw := range batch {
				id, err := format.IDFromBytes(raw)
				if err != nil {
					return nil, format.Corruptf("parent references: %v", err)
				}
				if have && id.Compare(last) <= 0 {
					return nil, format.Corruptf("parent references are not in ascending order")
				}
				last, have = id, true
				if !missing[i] {
					known = append(known, id)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, fromRPC("read parent references", err)
	}
	return known, nil
}

// bkPin is a pinParent running on its own goroutine.
type bkPin struct {
	sess   *uploadSession
	ctx    context.Context
	parent *Snapshot // nil: nothing to pin
	done   chan struct{}
	known  []format.ID
	err    error
}

// startPin pins parent's chunks (see pinParent) in the background.
func (s *uploadSession) startPin(ctx context.Context, parent *Snapshot) *bkPin {
	p := &bkPin{sess: s, ctx: ctx, parent: parent, done: make(chan struct{})}
	if parent == nil {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		p.known, p.err = s.pinParent(ctx, parent.ID)
	}()
	return p
}

// wait waits for the goroutine, whatever its outcome.
func (p *bkPin) wait() { <-p.done }

// result returns the known set of parent, the parent chosen from
// verified headers. It pins again should that not be the snapshot pinned
// in the background (it is, unless the listing was tampered with, which
// verification reports first).
func (p *bkPin) result(parent *Snapshot) ([]format.ID, error) {
	<-p.done
	switch {
	case parent == nil:
		return nil, nil
	case p.parent != nil && p.parent.ID == parent.ID:
		return p.known, p.err
	}
	return p.sess.pinParent(p.ctx, parent.ID)
}
