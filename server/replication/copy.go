package replication

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/repo"
)

// Batch sizes of the protocol (SPEC.md §12.6 limits).
const (
	filterBatch = 10000   // IDs per FilterMissing
	refsBatch   = 10000   // IDs per commit RefsBatch message
	messageMax  = 4 << 20 // envelope bytes per PutChunks message (one chunk may exceed it)
	abortWait   = 30 * time.Second
)

// copySnapshot copies one snapshot in one upload session: the missing
// chunks, then the commit. On failure it aborts the session, which also
// makes the target flush what it received, so a retry resends nothing
// that arrived.
func (p *Pusher) copySnapshot(ctx context.Context, s repo.Snapshot, res *holdfastv1.ReplicateResponse) (err error) {
	up := p.opts.Target.Upload
	begin, err := up.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: p.opts.TargetRepo}))
	if err != nil {
		return targetError("begin session", err)
	}
	sid := begin.Msg.GetSessionId()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.keepAlive(ctx, sid, time.Unix(0, begin.Msg.GetLeaseUntilUnixNano()))
	defer func() {
		if err != nil {
			actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), abortWait)
			defer acancel()
			_, _ = up.Abort(actx, connect.NewRequest(&holdfastv1.AbortRequest{Repo: p.opts.TargetRepo, SessionId: sid}))
		}
	}()
	if err := p.sendMissing(ctx, s, sid, res); err != nil {
		return err
	}
	return p.commit(ctx, s, sid)
}

// keepAlive renews the session at a third of its lease until ctx ends, so a
// large snapshot on a slow link outlives the default 15-minute lease.
func (p *Pusher) keepAlive(ctx context.Context, sid []byte, lease time.Time) {
	every := max(time.Until(lease)/3, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := p.opts.Target.Upload.KeepAlive(ctx, connect.NewRequest(&holdfastv1.KeepAliveRequest{Repo: p.opts.TargetRepo, SessionId: sid}))
		if err != nil && ctx.Err() == nil {
			p.log.Warn("replication: session keep-alive failed", "err", err)
		}
	}
}

// sendMissing walks the reference list in FilterMissing batches and feeds
// the missing IDs to Parallel sender streams. Memory stays bounded by the
// batch and the senders' messages, whatever the snapshot's size.
func (p *Pusher) sendMissing(ctx context.Context, s repo.Snapshot, sid []byte, res *holdfastv1.ReplicateResponse) error {
	g, gctx := newGroup(ctx)
	ids := make(chan format.ID, filterBatch)
	sent := make([]sendTotals, p.opts.Parallel)
	for i := range p.opts.Parallel {
		g.Go(func() error { return p.sender(gctx, sid, ids, &sent[i]) })
	}
	g.Go(func() error {
		defer close(ids)
		batch := make([][]byte, 0, filterBatch)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			resp, err := p.opts.Target.Upload.FilterMissing(gctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{
				Repo: p.opts.TargetRepo, SessionId: sid, Ids: batch,
			}))
			batch = make([][]byte, 0, filterBatch) // the request may still hold the old one
			if err != nil {
				return targetError("filter missing", err)
			}
			for _, raw := range resp.Msg.GetMissing() {
				id, err := format.IDFromBytes(raw)
				if err != nil {
					return fmt.Errorf("target answered a malformed chunk ID: %w", err)
				}
				select {
				case ids <- id:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		}
		err := p.src.ReadRefs(gctx, s, func(id format.ID) error {
			batch = append(batch, id[:])
			if len(batch) == filterBatch {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
	err := g.Wait()
	for _, t := range sent {
		res.ChunksSent += t.chunks
		res.ChunkBytesSent += t.bytes
	}
	return err
}

// sendTotals is what one sender stream delivered.
type sendTotals struct{ chunks, bytes int64 }

// sender reads the chunks named on ids from the source engine (verified
// against their pack checksums there) and streams them to the target in
// messages of up to messageMax bytes. It opens its stream only when it has
// something to send: the target refuses an empty stream.
func (p *Pusher) sender(ctx context.Context, sid []byte, ids <-chan format.ID, tot *sendTotals) error {
	var stream *connect.ClientStreamForClient[holdfastv1.PutChunksRequest, holdfastv1.PutChunksResponse]
	msg := &holdfastv1.PutChunksRequest{Repo: p.opts.TargetRepo, SessionId: sid}
	size := 0
	send := func() error {
		if len(msg.Chunks) == 0 {
			return nil
		}
		if stream == nil {
			stream = p.opts.Target.Upload.PutChunks(ctx)
		}
		if err := stream.Send(msg); err != nil {
			// Send reports only that the stream ended; the target's
			// reason is in the response.
			if _, rerr := stream.CloseAndReceive(); rerr != nil {
				err = rerr
			}
			return targetError("put chunks", err)
		}
		for _, c := range msg.Chunks {
			tot.chunks++
			tot.bytes += int64(len(c.Envelope))
		}
		msg = &holdfastv1.PutChunksRequest{}
		size = 0
		return nil
	}
	for id := range ids {
		env, err := p.src.ReadChunk(ctx, p.srcID, id)
		if err != nil {
			return fmt.Errorf("read chunk %s on the source: %w", id.Short(), err)
		}
		if size > 0 && size+len(env) > messageMax {
			if err := send(); err != nil {
				return err
			}
		}
		if err := p.bucket.wait(ctx, len(env)); err != nil {
			return err
		}
		sum := blake3.Sum256(env)
		msg.Chunks = append(msg.Chunks, &holdfastv1.Chunk{Id: id[:], Envelope: env, Checksum: sum[:]})
		size += len(env)
		p.stats.BytesSent.Add(uint64(len(env)))
		p.stats.ChunksSent.Add(1)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := send(); err != nil {
		return err
	}
	if stream == nil {
		return nil
	}
	if _, err := stream.CloseAndReceive(); err != nil {
		return targetError("put chunks", err)
	}
	return nil
}

// commit sends the header bytes unchanged and the reference list, and
// checks the target derived the same snapshot ID (expect_id makes the
// target check it too, before it commits anything).
func (p *Pusher) commit(ctx context.Context, s repo.Snapshot, sid []byte) error {
	stream := p.opts.Target.Upload.Commit(ctx)
	err := stream.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{
		Repo: p.opts.TargetRepo, SessionId: sid, Header: s.Header, ExpectId: s.ID[:],
	}}})
	batch := make([][]byte, 0, refsBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: batch}}})
		batch = make([][]byte, 0, refsBatch)
		return err
	}
	if err == nil {
		err = p.src.ReadRefs(ctx, s, func(id format.ID) error {
			batch = append(batch, id[:])
			if len(batch) == refsBatch {
				return flush()
			}
			return nil
		})
	}
	if err == nil {
		err = flush()
	}
	resp, cerr := stream.CloseAndReceive()
	if cerr != nil {
		return targetError("commit", cerr)
	}
	if err != nil {
		return err
	}
	if got, _ := format.IDFromBytes(resp.Msg.GetSnapshotId()); got != s.ID {
		return fmt.Errorf("%w: commit: the target derived snapshot %s, want %s", ErrTarget, got.Short(), s.ID.Short())
	}
	return nil
}
