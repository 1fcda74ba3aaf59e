package indexkey

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// ChunkLoc is the value of a ChunkKey: where a chunk's envelope is stored.
// The 'c' keyspace holds one per chunk (tens of millions), so offset and
// length are varints: about 57 bytes a value instead of 61.
type ChunkLoc struct {
	Pack     format.ID // pack holding the record
	Offset   uint64    // record offset in the pack
	Length   uint32    // record length
	Checksum [16]byte  // record checksum (pack.ChecksumOf), to verify a range read
}

func (c ChunkLoc) validate() error {
	switch {
	case c.Length == 0 || c.Length > format.MaxEnvelopeSize:
		return fmt.Errorf("length %d out of range", c.Length)
	case c.Offset > format.MaxPackSize || c.Offset+uint64(c.Length) > format.MaxPackSize:
		return fmt.Errorf("record [%d, +%d) past maximum pack size", c.Offset, c.Length)
	}
	return nil
}

// EncodeChunkLoc encodes c.
func EncodeChunkLoc(c ChunkLoc) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("index chunk location: %w", err)
	}
	b := newValue(format.IDSize + 9 + 16)
	b = append(b, c.Pack[:]...)
	b = wire.AppendUvarint(b, c.Offset)
	b = wire.AppendUvarint(b, uint64(c.Length))
	return append(b, c.Checksum[:]...), nil
}

// DecodeChunkLoc decodes the value of a ChunkKey.
func DecodeChunkLoc(v []byte) (ChunkLoc, error) {
	const object = "index chunk location"
	var c ChunkLoc
	r, err := openValue(object, v)
	if err != nil {
		return c, err
	}
	c.Pack = r.ID("pack ID")
	c.Offset = r.Uvarint("offset")
	c.Length = readU32(r, "length")
	copy(c.Checksum[:], r.Bytes(16, "checksum"))
	if err := decodeWith(object, r, c.validate); err != nil {
		return ChunkLoc{}, err
	}
	return c, nil
}

// PackRecord is the value of a PackKey: a pack's shard layout and how much
// of it is still referenced.
type PackRecord struct {
	Length      int64     // pack length in bytes
	K, M        int       // data and parity shard counts
	Stores      []uint16  // Stores[i] is the Meta store ID holding shard i; len K+M
	LiveBytes   uint64    // bytes of records still referenced (GC decides repacking by it)
	LiveCount   uint64    // records still referenced
	Created     time.Time // when the pack was committed to the index
	RetainUntil time.Time // latest object-lock retention set on its shards; zero if none
}

func (p PackRecord) validate() error {
	switch {
	case p.Length <= 0 || p.Length > format.MaxPackSize:
		return fmt.Errorf("pack length %d out of range", p.Length)
	case p.K < 1 || p.M < 0 || p.K+p.M > maxShards:
		return fmt.Errorf("shard layout %d+%d out of range", p.K, p.M)
	case len(p.Stores) != p.K+p.M:
		return fmt.Errorf("%d store placements for %d shards", len(p.Stores), p.K+p.M)
	case p.LiveBytes > uint64(p.Length):
		return fmt.Errorf("live bytes %d exceed pack length %d", p.LiveBytes, p.Length)
	case p.LiveCount > p.LiveBytes:
		return fmt.Errorf("%d live records in %d live bytes", p.LiveCount, p.LiveBytes)
	case !validTime(p.Created) || !validTime(p.RetainUntil):
		return errors.New("time out of range")
	}
	return nil
}

// EncodePackRecord encodes p.
func EncodePackRecord(p PackRecord) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("index pack record: %w", err)
	}
	b := newValue(32 + 3*len(p.Stores))
	b = wire.AppendUvarint(b, uint64(p.Length))
	b = append(b, byte(p.K), byte(p.M))
	for _, s := range p.Stores {
		b = wire.AppendUvarint(b, uint64(s))
	}
	b = wire.AppendUvarint(b, p.LiveBytes)
	b = wire.AppendUvarint(b, p.LiveCount)
	b = appendTime(b, p.Created)
	return appendTime(b, p.RetainUntil), nil
}

// DecodePackRecord decodes the value of a PackKey.
func DecodePackRecord(v []byte) (PackRecord, error) {
	const object = "index pack record"
	var p PackRecord
	r, err := openValue(object, v)
	if err != nil {
		return p, err
	}
	p.Length = int64(r.UvarintMax("pack length", format.MaxPackSize))
	p.K = int(r.Byte("k"))
	p.M = int(r.Byte("m"))
	if n := p.K + p.M; r.Err() == nil && n <= maxShards {
		p.Stores = make([]uint16, n)
		for i := range p.Stores {
			p.Stores[i] = uint16(r.UvarintMax("store ID", MaxStores-1))
		}
	}
	p.LiveBytes = r.Uvarint("live bytes")
	p.LiveCount = r.Uvarint("live count")
	p.Created = readTime(r, "created")
	p.RetainUntil = readTime(r, "retain until")
	if err := decodeWith(object, r, p.validate); err != nil {
		return PackRecord{}, err
	}
	return p, nil
}

// ObjectRef says where the bytes of a snapshot's header or reference list
// are: inline in the index (small objects, read without touching a store),
// or in an object of their own on one or more stores.
type ObjectRef struct {
	Inline []byte // the object itself, when Name is empty

	Name   string   // object name on each store in Stores
	Size   uint64   // object length in bytes
	Hash   [32]byte // BLAKE3-256 of the object, checked on every read
	Stores []uint16 // Meta store IDs holding a copy, ascending
}

// Ref kinds on the wire.
const (
	refInline = 1
	refObject = 2
)

func (o ObjectRef) validate() error {
	if o.Name == "" {
		switch {
		case o.Size != 0 || o.Hash != [32]byte{} || len(o.Stores) != 0:
			return errors.New("inline object ref with object fields")
		case len(o.Inline) > MaxInline:
			return fmt.Errorf("inline object of %d bytes exceeds %d", len(o.Inline), MaxInline)
		}
		return nil
	}
	switch {
	case len(o.Inline) > 0:
		return errors.New("object ref is both inline and stored")
	case len(o.Name) > MaxObjectNameLen || !utf8.ValidString(o.Name):
		return errors.New("bad object name")
	case len(o.Stores) == 0 || len(o.Stores) > maxShards:
		return fmt.Errorf("%d stores", len(o.Stores))
	}
	for i := 1; i < len(o.Stores); i++ {
		if o.Stores[i] <= o.Stores[i-1] {
			return errors.New("stores not strictly ascending")
		}
	}
	return nil
}

func appendRef(b []byte, o ObjectRef) []byte {
	if o.Name == "" {
		return wire.AppendBytes(append(b, refInline), o.Inline)
	}
	b = wire.AppendString(append(b, refObject), o.Name)
	b = wire.AppendUvarint(b, o.Size)
	b = append(b, o.Hash[:]...)
	b = wire.AppendUvarint(b, uint64(len(o.Stores)))
	for _, s := range o.Stores {
		b = wire.AppendUvarint(b, uint64(s))
	}
	return b
}

func readRef(r *wire.Reader, what string) ObjectRef {
	var o ObjectRef
	switch kind := r.Byte(what + " kind"); kind {
	case refInline:
		o.Inline = r.LenBytes(what, MaxInline)
		if len(o.Inline) == 0 {
			o.Inline = nil // one form for "empty", so re-encoding is stable
		}
	case refObject:
		o.Name = r.String(what+" name", MaxObjectNameLen)
		if o.Name == "" {
			r.Failf("%s: empty object name", what)
		}
		o.Size = r.Uvarint(what + " size")
		copy(o.Hash[:], r.Bytes(32, what+" hash"))
		n := r.Count(what+" store", 1)
		o.Stores = make([]uint16, n)
		for i := range o.Stores {
			o.Stores[i] = uint16(r.UvarintMax(what+" store ID", MaxStores-1))
		}
	default:
		r.Failf("%s: unknown kind %d", what, kind)
	}
	return o
}

// SnapshotRecord is the value of a SnapshotKey: a committed snapshot.
type SnapshotRecord struct {
	Header    ObjectRef // the snapshot's encoded clear-text header
	Refs      ObjectRef // the snapshot's encoded reference list
	Committed time.Time
}

func (s SnapshotRecord) validate() error {
	if err := s.Header.validate(); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if err := s.Refs.validate(); err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	if !validTime(s.Committed) || s.Committed.IsZero() {
		return errors.New("commit time missing or out of range")
	}
	return nil
}

// EncodeSnapshotRecord encodes s.
func EncodeSnapshotRecord(s SnapshotRecord) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("index snapshot record: %w", err)
	}
	b := newValue(16 + len(s.Header.Inline) + len(s.Refs.Inline) + len(s.Header.Name) + len(s.Refs.Name) + 80)
	b = appendRef(b, s.Header)
	b = appendRef(b, s.Refs)
	return appendTime(b, s.Committed), nil
}

// DecodeSnapshotRecord decodes the value of a SnapshotKey. Inline bytes
// alias v.
func DecodeSnapshotRecord(v []byte) (SnapshotRecord, error) {
	const object = "index snapshot record"
	var s SnapshotRecord
	r, err := openValue(object, v)
	if err != nil {
		return s, err
	}
	s.Header = readRef(r, "header")
	s.Refs = readRef(r, "refs")
	s.Committed = readTime(r, "committed")
	if err := decodeWith(object, r, s.validate); err != nil {
		return SnapshotRecord{}, err
	}
	return s, nil
}

// LockMode says who may lift a snapshot lock before it expires.
type LockMode byte

const (
	// LockGovernance: a server admin may shorten or remove the lock.
	LockGovernance LockMode = 1
	// LockCompliance: no one may shorten or remove it; it can only be
	// extended.
	LockCompliance LockMode = 2
)

// String returns "governance" or "compliance".
func (m LockMode) String() string {
	switch m {
	case LockGovernance:
		return "governance"
	case LockCompliance:
		return "compliance"
	}
	return fmt.Sprintf("LockMode(%d)", byte(m))
}

// LockRecord is the value of a LockKey.
type LockRecord struct {
	Mode  LockMode
	Until time.Time // the lock expires at Until
	Set   time.Time // when the lock was set or last changed
}

func (l LockRecord) validate() error {
	switch {
	case l.Mode != LockGovernance && l.Mode != LockCompliance:
		return fmt.Errorf("unknown lock mode %d", l.Mode)
	case l.Until.IsZero() || !validTime(l.Until) || !validTime(l.Set):
		return errors.New("time missing or out of range")
	}
	return nil
}

// EncodeLockRecord encodes l.
func EncodeLockRecord(l LockRecord) ([]byte, error) {
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("index lock record: %w", err)
	}
	b := append(newValue(21), byte(l.Mode))
	b = appendTime(b, l.Until)
	return appendTime(b, l.Set), nil
}

// DecodeLockRecord decodes the value of a LockKey.
func DecodeLockRecord(v []byte) (LockRecord, error) {
	const object = "index lock record"
	var l LockRecord
	r, err := openValue(object, v)
	if err != nil {
		return l, err
	}
	l.Mode = LockMode(r.Byte("mode"))
	l.Until = readTime(r, "until")
	l.Set = readTime(r, "set")
	if err := decodeWith(object, r, l.validate); err != nil {
		return LockRecord{}, err
	}
	return l, nil
}
