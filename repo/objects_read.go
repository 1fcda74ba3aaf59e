package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// readMeta reads a copy of a meta object from the first of stores that
// has it intact, asking stores that reads currently go around last. It
// asks one store at a time, the next one at once when a copy fails and
// also when a store has not answered after the coder's HedgeAfter (a
// store behind a partition that drops packets would otherwise hold the
// read for the S3 client's timeouts); the first intact copy wins and the
// other reads are cancelled. A store that lost to the next one that way
// is marked slow, so that range reads go around it too.
func (r *Repo) readMeta(ctx context.Context, ref indexkey.ObjectRef, stores []uint16) ([]byte, error) {
	stores = r.reachableFirst(stores)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the reads still running stop, and send into a buffered channel
	type copyRead struct {
		id  uint16
		b   []byte
		err error
	}
	results := make(chan copyRead, len(stores))
	started := make([]uint16, 0, len(stores))
	start := func() bool {
		if len(started) == len(stores) {
			return false
		}
		id := stores[len(started)]
		started = append(started, id)
		go func() {
			b, err := r.readMetaCopy(ctx, ref, id)
			results <- copyRead{id, b, err}
		}()
		return true
	}
	var tick <-chan time.Time // nil: never hedge
	hedge := r.coder.HedgeAfter()
	timer := time.NewTimer(max(hedge, 0))
	defer timer.Stop()
	if hedge >= 0 {
		tick = timer.C
	}
	start()
	var errs []error
	answered := map[uint16]bool{}
	for pending := 1; pending > 0; {
		select {
		case res := <-results:
			pending--
			answered[res.id] = true
			if res.err == nil {
				r.slowBefore(started, res.id, answered)
				return res.b, nil
			}
			r.log.Warn("damaged or missing meta object copy", "object", ref.Name, "store", res.id, "err", res.err)
			errs = append(errs, fmt.Errorf("store %d: %w", res.id, res.err))
			if start() {
				pending++
			}
		case <-tick:
			if start() {
				pending++
			}
			timer.Reset(hedge)
		}
	}
	return nil, fmt.Errorf("%s: %w on %d stores: %w", ref.Name, ErrLost, len(stores), errors.Join(errs...))
}

// readMetaCopy reads the copy of ref on store id and checks its size and
// hash.
func (r *Repo) readMetaCopy(ctx context.Context, ref indexkey.ObjectRef, id uint16) ([]byte, error) {
	s, ok := r.stores[id]
	if !ok {
		return nil, fmt.Errorf("not configured")
	}
	b, err := backend.ReadAll(ctx, s.Backend, backend.Name(ref.Name), 0, -1)
	if err == nil && (uint64(len(b)) != ref.Size || blake3.Sum256(b) != ref.Hash) {
		err = format.Corruptf("copy does not match its recorded hash")
	}
	return b, err
}

// reachableFirst orders stores so that those reads currently go around
// come last, keeping the order otherwise.
func (r *Repo) reachableFirst(stores []uint16) []uint16 {
	return moveLast(stores, r.coder.ReadsGoAround)
}

// slowBefore marks as slow the stores whose reads were started before the
// one from winner and have not answered: the winner was asked because
// they had not answered in time.
func (r *Repo) slowBefore(started []uint16, winner uint16, answered map[uint16]bool) {
	i := slices.Index(started, winner)
	for _, id := range started[:i] {
		if !answered[id] {
			r.coder.SlowRead(id)
		}
	}
}
