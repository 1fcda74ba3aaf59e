package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// packWriter collects one repository's new chunks into an open pack and
// writes it out when it reaches the target size or when someone needs its
// chunks durable (a snapshot commit, Close).
//
// The lock is held across the pack upload on purpose: a chunk is either in
// the open pack or in the index, never in between, so a commit that flushes
// and then checks the index sees every chunk that was put before it.
type packWriter struct {
	r      *Repo
	repoID uint32
	name   string

	mu      sync.Mutex
	builder *pack.Builder
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
		w = &packWriter{r: r, repoID: id, name: name, builder: pack.NewBuilder()}
		r.writers[id] = w
	}
	return w, nil
}

// PutChunk adds a sealed envelope under id to repository repoID. A chunk the
// repository already holds (or is already in the open pack) is accepted
// without being stored again. The chunk becomes durable and findable at the
// next Flush (or automatically when the open pack fills).
func (r *Repo) PutChunk(ctx context.Context, repoID uint32, id format.ID, envelope []byte) (stored bool, err error) {
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
	return w.put(ctx, id, envelope)
}

func (w *packWriter) put(ctx context.Context, id format.ID, envelope []byte) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.builder.Has(id) {
		return false, nil
	}
	if _, err := w.r.idx.GetChunk(w.repoID, id); err == nil {
		return false, nil
	} else if !errors.Is(err, index.ErrNotFound) {
		return false, err
	}
	if w.builder.Count() > 0 && w.builder.Len()+len(envelope)+pack.EntrySize > w.r.cfg.PackTarget {
		if err := w.flushLocked(ctx); err != nil {
			return false, err
		}
	}
	if err := w.builder.Add(id, envelope); err != nil {
		w.builder.Reset()
		return false, fmt.Errorf("chunk %s: %w", id.Short(), err)
	}
	return true, nil
}

// Flush makes every chunk put to repository repoID so far durable and
// findable: it seals the open pack, writes its shards, and commits the index
// batch that points at them.
func (r *Repo) Flush(ctx context.Context, repoID uint32) error {
	w, err := r.writer(repoID)
	if err != nil {
		return err
	}
	return w.flush(ctx)
}

func (w *packWriter) flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked(ctx)
}

// flushLocked writes the open pack. Order matters (SPEC.md §10.10): the pack is
// verified, then every shard is durable, then one synced index batch makes
// its chunks reachable. A crash before the batch leaves orphan shards only.
// On failure the open pack is dropped: its chunks were never acknowledged as
// durable, so the uploader resends them.
func (w *packWriter) flushLocked(ctx context.Context) error {
	if w.builder.Count() == 0 {
		return nil
	}
	defer w.builder.Reset()
	data, packID, entries, err := w.builder.Finish()
	if err != nil {
		return fmt.Errorf("seal pack: %w", err)
	}
	if _, err := pack.Parse(data); err != nil { // verify what we wrote before anyone can read it
		return fmt.Errorf("pack %s failed verification before upload: %w", packID.Short(), err)
	}
	if _, err := w.r.idx.GetPack(w.repoID, packID); err == nil {
		// The same bytes are already stored and indexed (a pack ID is the
		// hash of its content); writing again could only risk them.
		return nil
	}
	placement, err := w.r.coder.WritePack(ctx, w.name, packID, data)
	if err != nil {
		return fmt.Errorf("write pack %s: %w", packID.Short(), err)
	}
	return w.commitPack(packID, int64(len(data)), placement, entries)
}

func (w *packWriter) commitPack(packID format.ID, packLen int64, placement []uint16, entries []pack.Entry) error {
	b := w.r.idx.NewBatch()
	defer b.Close()
	rec := indexkey.PackRecord{
		Length: packLen, K: w.r.coder.K(), M: w.r.coder.M(),
		Stores: placement, Created: time.Now(),
	}
	for _, e := range entries {
		// Every entry is new: put refused chunks already in the index, and
		// only this writer adds chunks of this repository.
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
