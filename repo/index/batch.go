package index

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// Batch collects writes that Commit applies atomically. Setters encode
// their value at once; the first failure (an invalid value, repository 0)
// is kept, later setters do nothing, and Commit returns it without writing
// anything. A Batch is not safe for concurrent use.
type Batch struct {
	b   *pebble.Batch
	err error

	presence *presence
	chunks   []chunkOp // the chunk puts and deletes, for presence
	disk     *diskGuard
	// takesData marks a batch that takes new data in (chunks, pins,
	// sessions, snapshots): on a full disk it is refused, while
	// maintenance (deletions, pack counts, GC state, locks, tokens) goes on.
	takesData bool
}

// NewBatch returns an empty batch. Commit or Close it.
func (x *Index) NewBatch() *Batch {
	if x.check() != nil {
		return &Batch{err: ErrClosed}
	}
	return &Batch{b: x.db.NewBatch(), presence: x.presence, disk: x.disk}
}

// Err returns the first error a setter met, or nil.
func (b *Batch) Err() error { return b.err }

// Len returns the number of writes in the batch.
func (b *Batch) Len() int {
	if b.b == nil {
		return 0
	}
	return int(b.b.Count())
}

// Commit applies the batch atomically and releases it. With sync it
// returns only once the batch is durable in the write-ahead log: every
// batch that makes data reachable must sync (shards durable first, then
// the index batch with sync). Without sync a machine crash may lose the
// batch, but never part of it.
func (b *Batch) Commit(sync bool) error {
	if b.b == nil {
		if b.err == nil {
			b.err = ErrClosed
		}
		return b.err
	}
	defer b.release()
	if b.err != nil {
		return b.err
	}
	if b.disk.refuses() {
		if b.takesData {
			return fmt.Errorf("%w: new data is refused until space is freed", ErrDiskFull)
		}
		if !b.disk.roomFor(int64(b.b.Len())) {
			return ErrNoRoom
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	err := b.presence.commit(b.chunks, func() error { return b.b.Commit(wo) })
	if err != nil {
		return fmt.Errorf("index: commit: %w", err)
	}
	return nil
}

// Close discards an uncommitted batch. It is a no-op after Commit.
func (b *Batch) Close() {
	if b.b != nil {
		b.release()
	}
}

// noteChunk remembers a chunk put or delete for the presence table, once
// the write is in the batch.
func (b *Batch) noteChunk(repo uint32, id format.ID, del bool) {
	if b.presence != nil && b.err == nil {
		b.chunks = append(b.chunks, chunkOp{chunkRef{repo, id}, del})
	}
}

func (b *Batch) release() {
	_ = b.b.Close() // only fails for an indexed batch, which we never make
	b.b = nil
	b.chunks = nil
	if b.err == nil {
		b.err = ErrClosed
	}
}

// ready reports whether the batch still takes writes.
func (b *Batch) ready() bool {
	if b.err == nil && b.b == nil {
		b.err = ErrClosed
	}
	return b.err == nil
}

// ok is ready for a per-repository key: repository 0 does not exist.
func (b *Batch) ok(repo uint32) bool {
	if !b.ready() {
		return false
	}
	if repo == 0 {
		b.err = fmt.Errorf("%w: repository ID 0", ErrInvalid)
		return false
	}
	return true
}

// set encodes a value for k, or records why it could not. Per-repository
// setters check ok(repo) first.
func set[T any](b *Batch, k []byte, encode func(T) ([]byte, error), v T) {
	if !b.ready() {
		return
	}
	val, err := encode(v)
	if err != nil {
		b.err = fmt.Errorf("index: put %s: %w", indexkey.Describe(k), err)
		return
	}
	b.setRaw(k, val)
}

func (b *Batch) setRaw(k, v []byte) {
	if err := b.b.Set(k, v, nil); err != nil {
		b.err = fmt.Errorf("index: put %s: %w", indexkey.Describe(k), err)
	}
}

func (b *Batch) del(k []byte) {
	if !b.ready() {
		return
	}
	if err := b.b.Delete(k, nil); err != nil {
		b.err = fmt.Errorf("index: delete %s: %w", indexkey.Describe(k), err)
	}
}

// PutChunk records where chunk id of repo is stored.
func (b *Batch) PutChunk(repo uint32, id format.ID, loc indexkey.ChunkLoc) {
	if b.ok(repo) {
		b.takesData = true
		set(b, indexkey.ChunkKey(repo, id), indexkey.EncodeChunkLoc, loc)
		b.noteChunk(repo, id, false)
	}
}

// DeleteChunk removes a chunk's location.
func (b *Batch) DeleteChunk(repo uint32, id format.ID) {
	if b.ok(repo) {
		b.del(indexkey.ChunkKey(repo, id))
		b.noteChunk(repo, id, true)
	}
}

// PutPack records a pack.
func (b *Batch) PutPack(repo uint32, id format.ID, p indexkey.PackRecord) {
	if b.ok(repo) {
		set(b, indexkey.PackKey(repo, id), indexkey.EncodePackRecord, p)
	}
}

// DeletePack removes a pack's record.
func (b *Batch) DeletePack(repo uint32, id format.ID) {
	if b.ok(repo) {
		b.del(indexkey.PackKey(repo, id))
	}
}

// PutSnapshot records a committed snapshot.
func (b *Batch) PutSnapshot(repo uint32, id format.ID, s indexkey.SnapshotRecord) {
	if b.ok(repo) {
		b.takesData = true
		set(b, indexkey.SnapshotKey(repo, id), indexkey.EncodeSnapshotRecord, s)
	}
}

// DeleteSnapshot removes a snapshot's record (forget).
func (b *Batch) DeleteSnapshot(repo uint32, id format.ID) {
	if b.ok(repo) {
		b.del(indexkey.SnapshotKey(repo, id))
	}
}

// PutLock sets or changes the lock of snapshot snap. Whether the change is
// allowed (compliance locks only extend) is the caller's decision.
func (b *Batch) PutLock(repo uint32, snap format.ID, l indexkey.LockRecord) {
	if b.ok(repo) {
		set(b, indexkey.LockKey(repo, snap), indexkey.EncodeLockRecord, l)
	}
}

// DeleteLock removes the lock of snapshot snap (an expired lock, or a
// governance lock a server admin lifts).
func (b *Batch) DeleteLock(repo uint32, snap format.ID) {
	if b.ok(repo) {
		b.del(indexkey.LockKey(repo, snap))
	}
}

// PutKeyFile stores a key file blob as the client uploaded it.
func (b *Batch) PutKeyFile(repo uint32, id format.ID, blob []byte) {
	if b.ok(repo) {
		set(b, indexkey.KeyFileKey(repo, id), indexkey.EncodeKeyFile, blob)
	}
}

// DeleteKeyFile removes a key file blob.
func (b *Batch) DeleteKeyFile(repo uint32, id format.ID) {
	if b.ok(repo) {
		b.del(indexkey.KeyFileKey(repo, id))
	}
}

// PutToken records a token by its hash.
func (b *Batch) PutToken(h indexkey.TokenHash, t indexkey.TokenRecord) {
	set(b, indexkey.TokenKey(h), indexkey.EncodeTokenRecord, t)
}

// DeleteToken revokes a token.
func (b *Batch) DeleteToken(h indexkey.TokenHash) { b.del(indexkey.TokenKey(h)) }

// PutSession records an upload session or renews its lease.
func (b *Batch) PutSession(repo uint32, s indexkey.SessionID, r indexkey.SessionRecord) {
	if b.ok(repo) {
		b.takesData = true
		set(b, indexkey.SessionKey(repo, s), indexkey.EncodeSessionRecord, r)
	}
}

// DeleteSession removes a session's record. Its pins stay until UnpinAll;
// callers ending a session do both in one batch.
func (b *Batch) DeleteSession(repo uint32, s indexkey.SessionID) {
	if b.ok(repo) {
		b.del(indexkey.SessionKey(repo, s))
	}
}

// Pin keeps chunk id alive against GC for session s.
func (b *Batch) Pin(repo uint32, s indexkey.SessionID, id format.ID) {
	if b.ok(repo) {
		b.takesData = true
		b.setRaw(indexkey.PinKey(repo, s, id), indexkey.EncodePin())
	}
}

// PinPresent pins chunk id for session s as a chunk the index holds: the
// caller found it in the index under the GC guard, in the same step as
// this batch (SPEC.md §11.4, §13.6). A commit of the session takes such a
// chunk as held without a lookup. Pinning again with Pin makes it a plain
// pin.
func (b *Batch) PinPresent(repo uint32, s indexkey.SessionID, id format.ID) {
	if b.ok(repo) {
		b.takesData = true
		b.setRaw(indexkey.PinKey(repo, s, id), indexkey.EncodePresentPin())
	}
}

// UnpinAll removes every pin of session s with one range deletion.
func (b *Batch) UnpinAll(repo uint32, s indexkey.SessionID) {
	if !b.ok(repo) {
		return
	}
	lo, hi := indexkey.PinPrefix(repo, s)
	if err := b.b.DeleteRange(lo, hi, nil); err != nil {
		b.err = fmt.Errorf("index: unpin %s: %w", indexkey.Describe(indexkey.SessionKey(repo, s)), err)
	}
}

// PutRepo records repository name with its record, and the reverse
// mapping from its ID. CreateRepo allocates IDs; PutRepo itself is for
// rebuilding and for changing a record's flags.
func (b *Batch) PutRepo(name string, r indexkey.RepoRecord) {
	if !b.ok(r.ID) {
		return
	}
	if !indexkey.ValidRepoName(name) {
		b.err = errInvalidName(name)
		return
	}
	set(b, indexkey.RepoKey(name), indexkey.EncodeRepoRecord, r)
	set(b, indexkey.RepoNameKey(r.ID), indexkey.EncodeRepoName, name)
}

// PutGCState records where repo's garbage collection stands.
func (b *Batch) PutGCState(repo uint32, s indexkey.GCState) {
	if b.ok(repo) {
		set(b, indexkey.GCKey(repo), indexkey.EncodeGCState, s)
	}
}

// PutMeta replaces the index's Meta record.
func (b *Batch) PutMeta(m indexkey.Meta) {
	set(b, indexkey.MetaKey(), indexkey.EncodeMeta, m)
}
