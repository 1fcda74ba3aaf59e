package pack

import (
	"fmt"
	"slices"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// table tracks the records of a pack under construction. Builder and Writer
// share it so that both enforce the same rules and produce identical bytes.
type table struct {
	entries  []Entry
	seen     map[format.ID]struct{}
	next     uint64 // offset of the next record
	err      error  // sticky
	finished bool
	limit    int // format.MaxPackSize; smaller in tests
}

func (t *table) reset() {
	t.entries = t.entries[:0]
	clear(t.seen)
	t.next = HeaderSize
	t.err = nil
	t.finished = false
	if t.limit == 0 {
		t.limit = format.MaxPackSize
	}
}

// size returns the pack length if it were finished now.
func (t *table) size() int {
	return int(t.next) + len(t.entries)*EntrySize + FooterSize
}

// add validates a record and appends its entry; the caller stores the bytes.
func (t *table) add(id format.ID, envelope []byte) error {
	return t.addSum(id, envelope, blake3.Sum256(envelope))
}

// addSum is add with the envelope's BLAKE3-256 already computed: the
// record checksum is its first ChecksumSize bytes.
func (t *table) addSum(id format.ID, envelope []byte, sum [32]byte) error {
	if t.err != nil {
		return t.err
	}
	if t.finished {
		return ErrFinished
	}
	var err error
	switch _, dup := t.seen[id]; {
	case dup:
		err = fmt.Errorf("add chunk %s: %w", id.Short(), ErrDuplicate)
	case len(envelope) == 0 || len(envelope) > format.MaxEnvelopeSize:
		err = fmt.Errorf("add chunk %s: %d bytes: %w", id.Short(), len(envelope), ErrEnvelopeSize)
	case t.size()+EntrySize+len(envelope) > t.limit:
		err = fmt.Errorf("add chunk %s: %w", id.Short(), ErrFull)
	}
	if err != nil {
		t.err = err
		return err
	}
	if t.seen == nil {
		t.seen = make(map[format.ID]struct{})
	}
	t.seen[id] = struct{}{}
	t.entries = append(t.entries, Entry{
		ID:       id,
		Offset:   t.next,
		Length:   uint32(len(envelope)),
		Checksum: [ChecksumSize]byte(sum[:ChecksumSize]),
	})
	t.next += uint64(len(envelope))
	return nil
}

// finish marks the table finished and returns the encoded trailer and
// footer, appended to dst.
func (t *table) finish(dst []byte) ([]byte, error) {
	if t.err != nil {
		return dst, t.err
	}
	if t.finished {
		return dst, ErrFinished
	}
	if len(t.entries) == 0 {
		return dst, ErrEmpty
	}
	t.finished = true
	start := len(dst)
	dst = AppendTrailer(dst, t.entries)
	f := footerFor(t.next, len(t.entries), dst[start:])
	return AppendFooter(dst, f), nil
}

// Builder assembles a pack in memory. Add records, then Finish. It does no
// I/O: the repository's pack writer decides when a pack is full (by Len) and
// uploads the result. A Builder is not safe for concurrent use.
type Builder struct {
	t   table
	buf []byte
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	b := &Builder{}
	b.Reset()
	return b
}

// Reset discards the pack under construction and any sticky error, keeping
// the buffer for the next pack. Data returned by an earlier Finish is
// overwritten by later Adds, so the caller must be done with it first.
func (b *Builder) Reset() {
	b.t.reset()
	b.buf = AppendHeader(b.buf[:0])
}

// Add appends one sealed chunk envelope. It fails with ErrDuplicate,
// ErrEnvelopeSize or ErrFull (wrapped), and after any failure the Builder
// refuses everything until Reset.
func (b *Builder) Add(id format.ID, envelope []byte) error {
	return b.AddSum(id, envelope, blake3.Sum256(envelope))
}

// AddSum is Add for a caller that already holds sum, the unkeyed
// BLAKE3-256 of envelope (the server checks exactly that hash on every
// upload, SPEC.md §12.3): the record checksum is its prefix, so the
// envelope is not hashed a second time. A wrong sum yields a pack whose
// record fails VerifyRecord on every read, so callers must pass the hash
// they verified, never one they were merely told.
func (b *Builder) AddSum(id format.ID, envelope []byte, sum [32]byte) error {
	if err := b.t.addSum(id, envelope, sum); err != nil {
		return err
	}
	b.buf = append(b.buf, envelope...)
	return nil
}

// Grow makes room for n more bytes of records (plus their trailer
// entries) without reallocating. A pack writer that knows its target size
// calls it once, so a Builder reused with Reset never reallocates, and the
// first pack does not leave a trail of ever larger discarded buffers.
func (b *Builder) Grow(n int) {
	if n > 0 {
		b.buf = slices.Grow(b.buf, n+n/EntrySize+FooterSize)
	}
}

// Reserve makes the buffer's capacity at least n bytes in all, for a
// caller that codes more after the finished pack in the same buffer (the
// engine's parity shards, see shard.Split). Like Grow, it is called once
// per buffer, so a Builder reused with Reset never reallocates.
func (b *Builder) Reserve(n int) {
	if n > cap(b.buf) {
		b.buf = slices.Grow(b.buf, n-len(b.buf))
	}
}

// Cap returns how many bytes of pack the Builder's buffer holds without
// reallocating.
func (b *Builder) Cap() int { return cap(b.buf) }

// Has reports whether id was added to the pack under construction.
func (b *Builder) Has(id format.ID) bool {
	_, ok := b.t.seen[id]
	return ok
}

// Len returns the length the pack would have if finished now: header,
// records, trailer and footer.
func (b *Builder) Len() int { return b.t.size() }

// Count returns the number of records added.
func (b *Builder) Count() int { return len(b.t.entries) }

// Err returns the sticky error, if any.
func (b *Builder) Err() error { return b.t.err }

// Finish completes the pack and returns its bytes, its ID and its entries
// (in offset order). data aliases the Builder's buffer and stays valid until
// the next Reset. Before returning, Finish re-decodes its own footer and
// trailer, a cheap check that what goes to the stores can be read back.
func (b *Builder) Finish() (data []byte, id format.ID, entries []Entry, err error) {
	b.buf, err = b.t.finish(b.buf)
	if err != nil {
		return nil, id, nil, err
	}
	entries = make([]Entry, len(b.t.entries))
	copy(entries, b.t.entries)
	if err := selfCheck(b.buf, entries); err != nil {
		b.t.err = err
		return nil, id, nil, err
	}
	return b.buf, IDOf(b.buf), entries, nil
}

// selfCheck decodes the header, footer and trailer of a just-built pack and compares
// them with what the builder meant to write. It catches encoder bugs before
// a bad pack reaches the stores; records are not re-hashed.
func selfCheck(data []byte, want []Entry) error {
	err := CheckHeader(data[:HeaderSize])
	var f Footer
	if err == nil {
		f, err = DecodeFooter(data[len(data)-FooterSize:])
	}
	if err == nil {
		var got []Entry
		got, err = DecodeTrailer(data[f.TrailerOffset:len(data)-FooterSize], f, int64(len(data)))
		if err == nil && len(got) != len(want) {
			err = fmt.Errorf("%d entries, want %d", len(got), len(want))
		}
		for i := 0; err == nil && i < len(got); i++ {
			if got[i] != want[i] {
				err = fmt.Errorf("entry %d differs", i)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("pack: self-check of built pack failed: %w", err)
	}
	return nil
}
