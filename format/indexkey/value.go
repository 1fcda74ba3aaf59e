package indexkey

import (
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Version is the version byte every value starts with. A value written by a
// newer build fails with format.ErrVersion instead of being misread.
const Version = 1

// maxShards mirrors shard.MaxShards (package shard imports this package for
// ValidRepoName, so the constant cannot be shared; a test in shard checks
// that the two agree).
const maxShards = 32

// Limits on variable-size value fields.
const (
	MaxInline      = 1 << 20 // inline snapshot header or refs bytes
	MaxKeyFileSize = 64 << 10
	MaxLabelLen    = 256
	MaxStoreURLLen = format.MaxNameLen
	MaxStores      = 1 << 16
	// MaxObjectNameLen bounds the store object name of a snapshot header
	// or reference list.
	MaxObjectNameLen = 1024
)

// newValue starts a value of the current version.
func newValue(capacity int) []byte {
	b := make([]byte, 1, 1+capacity)
	b[0] = Version
	return b
}

// openValue returns a reader positioned after the version byte, or an error
// for an empty value or an unknown version.
func openValue(object string, v []byte) (*wire.Reader, error) {
	r := wire.NewReader(object, v)
	ver := r.Byte("version")
	if err := r.Err(); err != nil {
		return nil, err
	}
	if ver != Version {
		return nil, format.VersionErrorf(object, ver, Version)
	}
	return r, nil
}

// done checks that the whole value was read.
func done(r *wire.Reader) error {
	r.ExpectEnd()
	return r.Err()
}

// Times are Unix nanoseconds, zig-zag varint encoded; 0 stands for the zero
// time.Time ("not set"). Decoded times are in UTC.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return wire.AppendVarint(b, 0)
	}
	return wire.AppendVarint(b, t.UnixNano())
}

func readTime(r *wire.Reader, what string) time.Time {
	ns := r.Varint(what)
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// validTime reports whether t survives the time encoding unchanged: zero,
// or a non-zero instant whose Unix nanoseconds fit in an int64 (years 1678 to
// 2262) and are not 0 (which means "not set").
func validTime(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	ns := t.UnixNano()
	return ns != 0 && time.Unix(0, ns).Equal(t)
}

func readU32(r *wire.Reader, what string) uint32 {
	return uint32(r.UvarintMax(what, 1<<32-1))
}

// EncodePin returns the value of a PinKey that pins a chunk on upload: the
// version byte alone. The key carries the rest.
func EncodePin() []byte { return newValue(0) }

// pinPresent is the flags byte of a pin that says the index held the chunk
// when it was pinned.
const pinPresent = 1

// EncodePresentPin returns the value of a PinKey for a chunk the index
// held when it was pinned, under the GC guard (FilterMissing): the version
// byte and the flags byte 1. While the pin lasts, GC keeps the chunk, so a
// commit may take it as held without looking it up (SPEC.md §11.4).
func EncodePresentPin() []byte { return append(newValue(1), pinPresent) }

// DecodePin checks the value of a PinKey.
func DecodePin(v []byte) error {
	_, err := DecodePinPresent(v)
	return err
}

// DecodePinPresent checks the value of a PinKey and reports whether it is
// a present pin (EncodePresentPin).
func DecodePinPresent(v []byte) (bool, error) {
	r, err := openValue("index pin", v)
	if err != nil {
		return false, err
	}
	if len(v) == 1 {
		return false, nil
	}
	if f := r.Byte("flags"); f != pinPresent {
		r.Failf("unknown flags %#x", f)
	}
	if err := done(r); err != nil {
		return false, err
	}
	return true, nil
}

// EncodeRepoName returns the value of a RepoNameKey.
func EncodeRepoName(name string) ([]byte, error) {
	if !ValidRepoName(name) {
		return nil, fmt.Errorf("index repo name: invalid name %q", name)
	}
	return wire.AppendString(newValue(1+len(name)), name), nil
}

// DecodeRepoName decodes the value of a RepoNameKey.
func DecodeRepoName(v []byte) (string, error) {
	r, err := openValue("index repo name", v)
	if err != nil {
		return "", err
	}
	name := r.String("name", MaxRepoNameLen)
	if err := done(r); err != nil {
		return "", err
	}
	if !ValidRepoName(name) {
		return "", format.Corruptf("index repo name: invalid name")
	}
	return name, nil
}

// EncodeKeyFile returns the value of a KeyFileKey: the opaque key file blob
// the client wrote (a wrapped master key; the server cannot read it).
func EncodeKeyFile(blob []byte) ([]byte, error) {
	if len(blob) == 0 || len(blob) > MaxKeyFileSize {
		return nil, fmt.Errorf("index key file: blob of %d bytes, want 1 to %d", len(blob), MaxKeyFileSize)
	}
	return wire.AppendBytes(newValue(3+len(blob)), blob), nil
}

// DecodeKeyFile decodes the value of a KeyFileKey. The result aliases v.
func DecodeKeyFile(v []byte) ([]byte, error) {
	r, err := openValue("index key file", v)
	if err != nil {
		return nil, err
	}
	blob := r.LenBytes("blob", MaxKeyFileSize)
	if err := done(r); err != nil {
		return nil, err
	}
	if len(blob) == 0 {
		return nil, format.Corruptf("index key file: empty blob")
	}
	return blob, nil
}

// decodeWith runs the shared tail of every struct decoder: check that the
// whole value was read, then the same validation the encoder applies, so
// that whatever decodes also re-encodes (to the same bytes).
func decodeWith(object string, r *wire.Reader, validate func() error) error {
	if err := done(r); err != nil {
		return err
	}
	if err := validate(); err != nil {
		return format.Corruptf("%s: %w", object, err)
	}
	return nil
}
