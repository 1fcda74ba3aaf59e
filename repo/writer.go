package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// MaxPacksInFlight bounds the sealed packs one repository writes to the
// stores at once. With the open pack that keeps filling meanwhile, a
// repository holds at most MaxPacksInFlight+1 pack buffers, each with room
// for a pack of PackTarget bytes and its parity shards (SPEC.md §10.10).
const MaxPacksInFlight = 2

// packWriter collects one repository's new chunks into an open pack. When
// the pack reaches its target size it is sealed and handed to a goroutine
// that verifies it, writes its shards and commits its index batch, while
// new chunks go to the next open pack (SPEC.md §10.10).
//
// A chunk put to the writer is always in exactly one of three places, so a
// put of the same ID is recognised as a duplicate wherever it is: the open
// pack, a sealed pack in flight, or the index. A flight leaves the
// in-flight list only after its index batch committed, under mu, so a
// lookup under mu that misses both packs finds it in the index.
type packWriter struct {
	r      *Repo
	repoID uint32
	name   string

	mu       sync.Mutex
	landed   *sync.Cond    // a flight finished (on mu)
	builder  *pack.Builder // the open pack
	inflight []*flight     // sealed packs being written, oldest first
	// failed is the error of the last landing when it failed (nil once a
	// later one succeeds). Its chunks are gone; the uploaders that relied on
	// them learn it at their commit (lastWriteFailure), not at an unrelated
	// upload that comes after the store is repaired.
	failed error
}

// flight is a sealed pack on its way to the stores and the index.
type flight struct {
	// b answers Has for the pack's chunks until the flight ends. Its
	// seen-set is not written between sealing and Reset, so Has under mu
	// is safe while land finishes and reads the pack.
	b    *pack.Builder
	done chan struct{} // closed after err is set
	err  error
}

// writer returns the open-pack writer of repository id.
func (r *Repo) writer(id uint32) (*packWriter, error) {
	name, err := r.repoName(id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	w, ok := r.writers[id]
	if !ok {
		w = &packWriter{r: r, repoID: id, name: name}
		w.landed = sync.NewCond(&w.mu)
		w.builder = pack.NewBuilder()
		r.writers[id] = w
	}
	return w, nil
}

// nextBuilder returns a builder for a pack that is starting: a landed
// pack's builder if one is free, else a new one sized for the target at
// once. Reuse matters: a fresh buffer per pack costs the kernel a page
// fault and the zeroing of a page for every 4 KiB of it.
func (w *packWriter) nextBuilder() *pack.Builder {
	return w.r.builders.take(w.bufferSize())
}

// bufferSize is the capacity of a pack buffer: a full pack and, after it,
// room for its parity, which the coder writes there (shard.Split) instead
// of into a new allocation per pack.
func (w *packWriter) bufferSize() int {
	return int(shard.SplitCap(int64(w.r.cfg.PackTarget), w.r.coder.K(), w.r.coder.M()))
}

// PutChunk adds a sealed envelope under id to repository repoID. A chunk the
// repository already holds (or is already in the open pack) is accepted
// without being stored again. The chunk becomes durable and findable at the
// next Flush (or automatically when the open pack fills).
func (r *Repo) PutChunk(ctx context.Context, repoID uint32, id format.ID, envelope []byte) (stored bool, err error) {
	return r.PutChunkSum(ctx, repoID, id, envelope, blake3.Sum256(envelope))
}

// PutChunkSum is PutChunk for a caller that has just verified sum, the
// unkeyed BLAKE3-256 of envelope (the upload service checks it as the
// transfer checksum): the pack record checksum is derived from it instead
// of hashing the envelope again (SPEC.md §10.10).
func (r *Repo) PutChunkSum(ctx context.Context, repoID uint32, id format.ID, envelope []byte, sum [32]byte) (stored bool, err error) {
	if len(envelope) > format.MaxEnvelopeSize {
		return false, fmt.Errorf("chunk %s: envelope of %d bytes exceeds %d: %w", id.Short(), len(envelope), format.MaxEnvelopeSize, ErrInvalid)
	}
	if _, err := seal.ParseHeader(envelope); err != nil {
		return false, fmt.Errorf("chunk %s: %v: %w", id.Short(), err, ErrInvalid)
	}
	w, err := r.writer(repoID)
	if err != nil {
		return false, err
	}
	return w.put(ctx, id, envelope, sum)
}

func (w *packWriter) put(ctx context.Context, id format.ID, envelope []byte, sum [32]byte) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.holds(id) {
			return false, nil
		}
		if _, err := w.r.idx.GetChunk(w.repoID, id); err == nil {
			return false, nil
		} else if !errors.Is(err, index.ErrNotFound) {
			return false, err
		}
		if w.builder.Count() == 0 || w.builder.Len()+len(envelope)+pack.EntrySize <= w.r.cfg.PackTarget {
			break
		}
		// Sealing may wait for a slot with mu released, and another put
		// may add id meanwhile: look again.
		w.sealLocked(ctx)
	}
	if w.builder.Count() == 0 && w.builder.Cap() < w.bufferSize() {
		// A pack starts here: take a buffer of the full size now rather
		// than grow one by doubling (which copies the pack twice).
		w.builder = w.nextBuilder()
	}
	if err := w.builder.AddSum(id, envelope, sum); err != nil {
		w.builder.Reset()
		return false, fmt.Errorf("chunk %s: %w", id.Short(), err)
	}
	return true, nil
}

// lastWriteFailure returns why the last pack of repository repoID failed
// to land, or nil if it landed (or none was written).
func (r *Repo) lastWriteFailure(repoID uint32) error {
	r.mu.Lock()
	w := r.writers[repoID]
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// holds reports whether id is in the open pack or in a pack in flight.
func (w *packWriter) holds(id format.ID) bool {
	if w.builder.Has(id) {
		return true
	}
	for _, f := range w.inflight {
		if f.b.Has(id) {
			return true
		}
	}
	return false
}

// Flush makes every chunk put to repository repoID so far durable and
// findable: it seals the open pack and waits until it and every pack
// sealed before it have their shards written and their index batches
// committed. It returns the first failure among those packs.
func (r *Repo) Flush(ctx context.Context, repoID uint32) error {
	w, err := r.writer(repoID)
	if err != nil {
		return err
	}
	return w.flush(ctx)
}

func (w *packWriter) flush(ctx context.Context) error {
	w.mu.Lock()
	if w.builder.Count() > 0 {
		w.sealLocked(ctx)
	}
	wait := slices.Clone(w.inflight)
	w.mu.Unlock()
	var err error
	for _, f := range wait {
		select {
		case <-f.done:
			if err == nil {
				err = f.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// sealLocked hands the open pack to a new flight and opens the next one,
// after waiting (mu released meanwhile) for a free slot when
// MaxPacksInFlight are in the air: that wait is the back-pressure uploads
// feel when the stores are slower than the network. A flight that fails
// drops its pack: its chunks were never acknowledged as durable, so
// uploaders resend them.
func (w *packWriter) sealLocked(ctx context.Context) {
	for len(w.inflight) >= MaxPacksInFlight {
		w.landed.Wait()
	}
	if w.builder.Count() == 0 { // another put sealed it while we waited
		return
	}
	f := &flight{b: w.builder, done: make(chan struct{})}
	w.inflight = append(w.inflight, f)
	// The next pack takes a full-size buffer at its first chunk (put), not
	// here: a repository that goes idle after this flush keeps no pack
	// buffer, however many repositories the server holds.
	w.builder = pack.NewBuilder()
	// The flight belongs to every session whose chunks it carries, so the
	// caller's cancellation must not abort it.
	go w.land(context.WithoutCancel(ctx), f)
}

// land finishes, verifies and writes one sealed pack, then retires its
// flight. Finish runs here, off the lock (hashing a pack takes tens of
// milliseconds); it does not touch the seen-set Has reads under mu.
func (w *packWriter) land(ctx context.Context, f *flight) {
	data, packID, entries, err := f.b.Finish()
	if err != nil {
		err = fmt.Errorf("seal pack: %w", err)
	} else {
		err = w.writePack(ctx, data, packID, entries)
	}
	if err != nil {
		w.r.log.Error("pack write failed; its chunks must be uploaded again", "repo", w.name, "err", err.Error())
	}
	w.mu.Lock()
	w.inflight = slices.DeleteFunc(w.inflight, func(g *flight) bool { return g == f })
	// Nothing reads the builder once it left the in-flight list. It goes
	// back before the broadcast: a put waiting for this slot opens its next
	// pack at once, and would allocate a new buffer if this one were not
	// in the pool yet.
	w.r.builders.put(f.b)
	// The last landing decides: a store that came back (a pack landed
	// since) must not fail uploads with a stale error.
	w.failed = err
	f.err = err
	w.landed.Broadcast()
	w.mu.Unlock()
	close(f.done)
}

// writePack writes a sealed pack. Order matters (SPEC.md §10.10): the pack
// is verified, then every shard is durable, then one synced index batch
// makes its chunks reachable. A crash before the batch leaves orphan
// shards only.
func (w *packWriter) writePack(ctx context.Context, data []byte, packID format.ID, entries []pack.Entry) error {
	if err := checkRecords(data, entries); err != nil { // verify what we wrote before anyone can read it
		return fmt.Errorf("pack %s failed verification before upload: %w", packID.Short(), err)
	}
	if w.r.idx.DiskFull() {
		// Its index batch would be refused: the shards would only take
		// space from the deletions that can free some.
		return fmt.Errorf("pack %s: %w", packID.Short(), index.ErrDiskFull)
	}
	// From the indexed-or-not check to the commit, GC must not delete a
	// pack of this ID (gc_packs.go).
	defer w.r.lockPacks(packID)()
	rec, err := w.r.idx.GetPack(w.repoID, packID)
	if err == nil {
		// The same bytes are already stored (a pack ID is the hash of its
		// content): writing them again could only risk them. Index the
		// chunks in the existing pack instead.
		return w.commitEntries(packID, rec, entries)
	}
	if !errors.Is(err, index.ErrNotFound) {
		return err
	}
	placement, err := w.r.coder.WritePack(ctx, w.name, packID, data)
	if err != nil {
		return fmt.Errorf("write pack %s: %w", packID.Short(), err)
	}
	return w.commitPack(packID, int64(len(data)), placement, entries)
}

// commitEntries indexes entries in an existing pack of the same bytes,
// raising its live counts by the chunks that are not indexed (those GC
// swept: this is what brings the pack back to life for DeletePack).
func (w *packWriter) commitEntries(packID format.ID, rec indexkey.PackRecord, entries []pack.Entry) error {
	b := w.r.idx.NewBatch()
	defer b.Close()
	for _, e := range entries {
		if _, err := w.r.idx.GetChunk(w.repoID, e.ID); err == nil {
			continue
		} else if !errors.Is(err, index.ErrNotFound) {
			return err
		}
		b.PutChunk(w.repoID, e.ID, indexkey.ChunkLoc{Pack: packID, Offset: e.Offset, Length: e.Length, Checksum: e.Checksum})
		rec.LiveBytes += uint64(e.Length)
		rec.LiveCount++
	}
	b.PutPack(w.repoID, packID, rec)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("commit pack %s to index: %w", packID.Short(), err)
	}
	return nil
}

func (w *packWriter) commitPack(packID format.ID, packLen int64, placement []uint16, entries []pack.Entry) error {
	b := w.r.idx.NewBatch()
	defer b.Close()
	rec := indexkey.PackRecord{
		Length: packLen, K: w.r.coder.K(), M: w.r.coder.M(),
		Stores: placement, Created: time.Now(),
	}
	for _, e := range entries {
		// Every entry is new: put refused chunks already in the index or
		// in flight, and only this writer adds chunks of this repository.
		b.PutChunk(w.repoID, e.ID, indexkey.ChunkLoc{Pack: packID, Offset: e.Offset, Length: e.Length, Checksum: e.Checksum})
		rec.LiveBytes += uint64(e.Length)
		rec.LiveCount++
	}
	b.PutPack(w.repoID, packID, rec)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("commit pack %s to index: %w", packID.Short(), err)
	}
	return nil
}

// checkRecords is the verification of a built pack before it is
// published (SPEC.md §10.10). Finish already decoded its header, footer and
// trailer back and compared them with the entries the builder recorded, and
// every record checksum was derived from a hash of the very envelope that
// was copied in. What is left to catch is a record that is not where its
// entry says, so each record must start with a valid envelope header.
// Records are not re-hashed: that was a fifth pass of BLAKE3 over every
// byte the server receives.
func checkRecords(data []byte, entries []pack.Entry) error {
	for i, e := range entries {
		if e.End() > uint64(len(data)) {
			return fmt.Errorf("record %d ends at %d past the pack's %d bytes", i, e.End(), len(data))
		}
		if _, err := seal.ParseHeader(data[e.Offset:e.End()]); err != nil {
			return fmt.Errorf("record %d (chunk %s): %w", i, e.ID.Short(), err)
		}
	}
	return nil
}
