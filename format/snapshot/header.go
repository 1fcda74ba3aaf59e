package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// Magic and Version open an encoded header.
const (
	Magic   = "HFSN"
	Version = 1
)

// Limits of a header. They are part of the format.
const (
	// MaxHeaderSize bounds an encoded header. It bounds what the server
	// accepts and stores in its index for one snapshot.
	MaxHeaderSize = 1 << 20

	// MaxKindLen bounds Source.Kind.
	MaxKindLen = 64

	// MaxPathLen bounds one entry of Paths (Linux PATH_MAX).
	MaxPathLen = 4096

	// MaxClientVersion bounds ClientVersion.
	MaxClientVersion = 256

	// MACSize is the size of the header MAC.
	MACSize = 32
)

// Source kinds the client writes today. Kind is an open set: a reader
// treats an unknown kind as an opaque grouping key.
const (
	KindPath            = "path"
	KindDockerVolume    = "docker-volume"
	KindDockerContainer = "docker-container"
	KindK8sPVC          = "k8s-pvc"
)

// Label is one key/value pair describing the source (for k8s-pvc:
// namespace, pod, pvc).
type Label struct {
	Key, Value string
}

// Source says what was backed up.
type Source struct {
	Kind   string  // KindPath, KindDockerVolume, ...
	Name   string  // the path, volume, container or PVC name
	Labels []Label // sorted by Key, keys unique
}

// Header is the clear-text record of a snapshot. The server reads it for
// retention, locks, GC and replication; it holds no file names beyond
// Paths, the roots the user asked to back up.
type Header struct {
	Time          int64 // unix nanoseconds
	Host          string
	Source        Source
	Tags          []string // sorted, unique, non-empty
	Paths         []string // as given by the user, in order
	Parent        format.ID
	Root          []tree.Extent // chunks of the root directory's encoded tree
	Size          uint64        // logical bytes of all files
	Files         uint64
	Dirs          uint64
	BytesAdded    uint64 // plaintext bytes of chunks new in this snapshot
	ClientVersion string
	RefCount      uint64    // number of IDs in the reference list
	RefsHash      format.ID // the reference list's trailing checksum (see RefsHash)
	MAC           [MACSize]byte
}

// Normalize sorts Tags and removes duplicates, and sorts Labels by key. It
// does not merge labels with the same key: Validate reports those.
func (h *Header) Normalize() {
	slices.Sort(h.Tags)
	h.Tags = slices.Compact(h.Tags)
	slices.SortStableFunc(h.Source.Labels, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
}

// Validate returns an error describing the first rule h breaks. Decode
// reports such a header as corrupt; a client calls Validate before Sign.
func (h *Header) Validate() error {
	if len(h.Host) > format.MaxNameLen {
		return fmt.Errorf("host of %d bytes exceeds %d", len(h.Host), format.MaxNameLen)
	}
	if err := checkKind(h.Source.Kind); err != nil {
		return err
	}
	if len(h.Source.Name) > format.MaxNameLen {
		return fmt.Errorf("source name of %d bytes exceeds %d", len(h.Source.Name), format.MaxNameLen)
	}
	for i, l := range h.Source.Labels {
		if l.Key == "" || len(l.Key) > format.MaxNameLen || len(l.Value) > format.MaxNameLen {
			return fmt.Errorf("label %d: key must be 1..%d bytes, value at most %d", i, format.MaxNameLen, format.MaxNameLen)
		}
		if i > 0 && h.Source.Labels[i-1].Key >= l.Key {
			return fmt.Errorf("label %q: keys not strictly sorted", l.Key)
		}
	}
	for i, t := range h.Tags {
		if t == "" || len(t) > format.MaxNameLen {
			return fmt.Errorf("tag %d: length %d not in 1..%d", i, len(t), format.MaxNameLen)
		}
		if i > 0 && h.Tags[i-1] >= t {
			return fmt.Errorf("tag %q: tags not strictly sorted", t)
		}
	}
	for i, p := range h.Paths {
		if p == "" || len(p) > MaxPathLen || strings.IndexByte(p, 0) >= 0 {
			return fmt.Errorf("path %d: must be 1..%d bytes without NUL", i, MaxPathLen)
		}
	}
	if err := tree.ValidateSubtree(h.Root); err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if len(h.ClientVersion) > MaxClientVersion {
		return fmt.Errorf("client version of %d bytes exceeds %d", len(h.ClientVersion), MaxClientVersion)
	}
	if h.RefCount == 0 {
		return errors.New("empty reference list")
	}
	if n := len(h.Encode()); n > MaxHeaderSize {
		return fmt.Errorf("encoded size %d exceeds %d", n, MaxHeaderSize)
	}
	return nil
}

// checkKind accepts 1..MaxKindLen bytes of [a-z0-9-].
func checkKind(k string) error {
	if k == "" || len(k) > MaxKindLen {
		return fmt.Errorf("source kind of %d bytes (want 1..%d)", len(k), MaxKindLen)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("source kind %q: only a-z, 0-9 and '-' allowed", k)
		}
	}
	return nil
}

// Encode returns the canonical encoding of h, MAC included. It does not
// validate: call Validate first (Decode rejects what Validate rejects).
func (h *Header) Encode() []byte {
	return append(h.appendUnsigned(nil), h.MAC[:]...)
}

// appendUnsigned appends every field but the MAC, which comes last in the
// encoding. These are the bytes the MAC covers.
func (h *Header) appendUnsigned(b []byte) []byte {
	b = append(b, Magic...)
	b = append(b, Version)
	b = wire.AppendVarint(b, h.Time)
	b = wire.AppendString(b, h.Host)
	b = wire.AppendString(b, h.Source.Kind)
	b = wire.AppendString(b, h.Source.Name)
	b = wire.AppendUvarint(b, uint64(len(h.Source.Labels)))
	for _, l := range h.Source.Labels {
		b = wire.AppendString(b, l.Key)
		b = wire.AppendString(b, l.Value)
	}
	b = appendStrings(b, h.Tags)
	b = appendStrings(b, h.Paths)
	b = append(b, h.Parent[:]...)
	b = tree.AppendExtents(b, h.Root)
	b = wire.AppendUvarint(b, h.Size)
	b = wire.AppendUvarint(b, h.Files)
	b = wire.AppendUvarint(b, h.Dirs)
	b = wire.AppendUvarint(b, h.BytesAdded)
	b = wire.AppendString(b, h.ClientVersion)
	b = wire.AppendUvarint(b, h.RefCount)
	b = append(b, h.RefsHash[:]...)
	return b
}

func appendStrings(b []byte, ss []string) []byte {
	b = wire.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = wire.AppendString(b, s)
	}
	return b
}

// ID returns the snapshot ID: unkeyed BLAKE3-256 of the full encoding,
// MAC included. Replication copies the encoding, so the ID is kept.
func (h *Header) ID() format.ID { return blake3.Sum256(h.Encode()) }

// Decode decodes and validates a header. It checks the structure only: the
// MAC needs the repository key (Verify).
func Decode(b []byte) (*Header, error) {
	if len(b) > MaxHeaderSize {
		return nil, format.Corruptf("snapshot header: %d bytes exceeds %d", len(b), MaxHeaderSize)
	}
	r := wire.NewReader("snapshot header", b)
	if m := r.Bytes(len(Magic), "magic"); r.Err() == nil && string(m) != Magic {
		return nil, format.Corruptf("snapshot header: bad magic %q", m)
	}
	if v := r.Byte("version"); r.Err() == nil && v != Version {
		return nil, format.VersionErrorf("snapshot header", v, Version)
	}
	h := &Header{}
	h.Time = r.Varint("time")
	h.Host = r.String("host", format.MaxNameLen)
	h.Source.Kind = r.String("source kind", MaxKindLen)
	h.Source.Name = r.String("source name", format.MaxNameLen)
	if n := r.Count("label", 3); n > 0 {
		h.Source.Labels = make([]Label, n)
		for i := range h.Source.Labels {
			h.Source.Labels[i] = Label{Key: r.String("label key", format.MaxNameLen), Value: r.String("label value", format.MaxNameLen)}
		}
	}
	h.Tags = readStrings(r, "tag", format.MaxNameLen)
	h.Paths = readStrings(r, "path", MaxPathLen)
	h.Parent = r.ID("parent")
	h.Root = tree.ReadExtents(r, "root extent")
	h.Size = r.Uvarint("size")
	h.Files = r.Uvarint("files")
	h.Dirs = r.Uvarint("dirs")
	h.BytesAdded = r.Uvarint("bytes added")
	h.ClientVersion = r.String("client version", MaxClientVersion)
	h.RefCount = r.Uvarint("reference count")
	h.RefsHash = r.ID("references hash")
	copy(h.MAC[:], r.Bytes(MACSize, "MAC"))
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := h.Validate(); err != nil {
		return nil, format.Corruptf("snapshot header: %v", err)
	}
	return h, nil
}

func readStrings(r *wire.Reader, what string, max int) []string {
	n := r.Count(what, 2) // a length byte and at least one byte
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.String(what, max)
	}
	return ss
}
