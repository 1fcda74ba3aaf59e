package erasure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// packOp holds what one operation on one pack knows: where its shards are,
// which of them turned out to be missing, and the damage already reported.
type packOp struct {
	*reporter
	packLen int64
	size    int64         // shard data size, shard.ShardSize(packLen, k)
	gone    atomic.Uint64 // bit i: shard i is missing, no use asking again
	away    atomic.Uint64 // bit i: shard i's store is unavailable (also in gone)
}

func (c *Coder) newOp(repo string, pack format.ID, packLen int64, placement []uint16) (*packOp, error) {
	if err := c.checkPlacement(placement); err != nil {
		return nil, err
	}
	if packLen < 1 || packLen > format.MaxPackSize {
		return nil, fmt.Errorf("%w: pack length %d", ErrRange, packLen)
	}
	return &packOp{
		reporter: c.newReporter(repo, pack, placement),
		packLen:  packLen,
		size:     shard.ShardSize(packLen, c.k),
	}, nil
}

func (op *packOp) name(i int) backend.Name {
	return backend.Name(shard.ObjectName(op.repo, op.pack, i))
}

func (op *packOp) isGone(i int) bool { return op.gone.Load()&(1<<i) != 0 }

// fail classifies a failed read of shard i and reports it, unless the
// operation's context ended (that is no damage). It returns the reason.
func (op *packOp) fail(ctx context.Context, i int, err error) string {
	if ctx.Err() != nil {
		return ""
	}
	reason := ReasonReadError
	switch {
	case errors.Is(err, backend.ErrUnavailable):
		// Checked first: a gone local store's reads also match
		// ErrNotExist, but its shards may be intact on the unmounted disk.
		reason = ReasonUnavailable
		op.gone.Or(1 << i)
		op.away.Or(1 << i)
		if op.c.reach.markUnreachable(op.placement[i]) {
			op.c.log.Warn("erasure: store unavailable to reads; reads rebuild its shards from the others",
				"store", op.placement[i], "retry_after", UnreachableFor.String())
		}
	case errors.Is(err, backend.ErrNotExist), errors.Is(err, ErrPlacement):
		reason = ReasonMissing
		op.gone.Or(1 << i)
	case errors.Is(err, backend.ErrRange), errors.Is(err, io.ErrUnexpectedEOF):
		reason = ReasonTruncated
	}
	op.report(i, reason, err)
	return reason
}

// readAt fills dst with the bytes of shard i's object from off. On failure
// it reports the damage and returns false and its reason ("" when the
// context ended).
func (op *packOp) readAt(ctx context.Context, i int, off int64, dst []byte) (bool, string) {
	b, err := op.c.store(op.placement[i])
	if err == nil {
		err = readInto(ctx, b, op.name(i), off, dst)
	}
	if err != nil {
		return false, op.fail(ctx, i, err)
	}
	op.c.reach.reached(op.placement[i])
	return true, ""
}

// whole reads shard i's object and checks it completely: size, header
// (against the pack, index and layout expected) and data hash. It returns
// the shard data, or "" and a damage reason (already reported), or the
// context's error.
func (op *packOp) whole(ctx context.Context, i int) ([]byte, string, error) {
	obj := make([]byte, shard.HeaderSize+op.size)
	if ok, reason := op.readAt(ctx, i, 0, obj); !ok {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		return nil, reason, nil
	}
	h, err := shard.DecodeHeader(obj[:shard.HeaderSize])
	if err == nil && (h.Pack != op.pack || h.Index != i || h.K != op.c.k || h.M != op.c.m || h.PackLen != op.packLen) {
		err = format.Corruptf("shard header describes %s.%02d (%d+%d, %d bytes), want %s.%02d (%d+%d, %d bytes)",
			h.Pack.Short(), h.Index, h.K, h.M, h.PackLen, op.pack.Short(), i, op.c.k, op.c.m, op.packLen)
	}
	if err != nil {
		op.report(i, ReasonBadHeader, err)
		return nil, ReasonBadHeader, nil
	}
	data := obj[shard.HeaderSize:]
	if err := shard.Verify(h, data); err != nil {
		op.report(i, ReasonHashMismatch, err)
		return nil, ReasonHashMismatch, nil
	}
	return data, "", nil
}

// readInto fills dst with exactly len(dst) bytes of the object from off,
// failing with io.ErrUnexpectedEOF (wrapped) if the store returns fewer or
// more. Unlike backend.ReadAll it reads straight into the caller's buffer.
func readInto(ctx context.Context, b backend.Backend, name backend.Name, off int64, dst []byte) error {
	rc, err := b.Get(ctx, name, off, int64(len(dst)))
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, dst); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s at %d: %w", name, off, err)
	}
	var one [1]byte
	if n, _ := io.ReadFull(rc, one[:]); n > 0 {
		return fmt.Errorf("read %s at %d: more than %d bytes: %w", name, off, len(dst), io.ErrUnexpectedEOF)
	}
	return nil
}
