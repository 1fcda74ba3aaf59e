package lockfile

import (
	"bytes"
	"fmt"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Magic and Version open an encoded lock object.
const (
	Magic   = "HFLK"
	Version = 1
)

// MaxSize bounds an encoded lock object: header, ID, mode, two maximal
// varints and the checksum.
const MaxSize = 4 + 1 + format.IDSize + 1 + 2*10 + 32

// Mode says who may lift a lock before it expires. The values are those of
// the index's LockMode (§11.4).
type Mode byte

const (
	// Governance: a repository or server admin may shorten or lift it.
	Governance Mode = 1
	// Compliance: nobody may shorten or lift it; it can only be extended.
	Compliance Mode = 2
)

// String returns "governance" or "compliance".
func (m Mode) String() string {
	switch m {
	case Governance:
		return "governance"
	case Compliance:
		return "compliance"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

// Lock is the content of a lock object.
type Lock struct {
	Snapshot format.ID
	Mode     Mode
	Until    time.Time // the lock expires at Until
	Set      time.Time // when it was set or last changed
}

// validate checks the rules every encoder and decoder applies.
func (l Lock) validate() error {
	switch {
	case l.Snapshot.IsZero():
		return fmt.Errorf("zero snapshot ID")
	case l.Mode != Governance && l.Mode != Compliance:
		return fmt.Errorf("unknown mode %d", byte(l.Mode))
	case l.Until.UnixNano() <= 0 || l.Set.UnixNano() <= 0:
		return fmt.Errorf("until and set must be after the Unix epoch")
	}
	return nil
}

// Encode returns the canonical encoding of l.
func Encode(l Lock) ([]byte, error) {
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("lock object: %w", err)
	}
	b := make([]byte, 0, MaxSize)
	b = append(b, Magic...)
	b = append(b, Version)
	b = append(b, l.Snapshot[:]...)
	b = append(b, byte(l.Mode))
	b = wire.AppendVarint(b, l.Until.UnixNano())
	b = wire.AppendVarint(b, l.Set.UnixNano())
	sum := blake3.Sum256(b)
	return append(b, sum[:]...), nil
}

// Decode parses an encoded lock object. Every failure is format.ErrCorrupt
// (format.ErrVersion for an unknown version).
func Decode(b []byte) (Lock, error) {
	const object = "lock object"
	var l Lock
	if len(b) > MaxSize {
		return l, format.Corruptf("%s: %d bytes exceed %d", object, len(b), MaxSize)
	}
	if len(b) < 4+1+32 {
		return l, format.Corruptf("%s: truncated (%d bytes)", object, len(b))
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	r := wire.NewReader(object, body)
	if !bytes.Equal(r.Bytes(4, "magic"), []byte(Magic)) {
		return l, format.Corruptf("%s: bad magic", object)
	}
	if v := r.Byte("version"); v != Version {
		return l, format.VersionErrorf(object, v, Version)
	}
	l.Snapshot = r.ID("snapshot ID")
	l.Mode = Mode(r.Byte("mode"))
	l.Until = time.Unix(0, r.Varint("until"))
	l.Set = time.Unix(0, r.Varint("set"))
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return Lock{}, err
	}
	if got := blake3.Sum256(body); !bytes.Equal(got[:], sum) {
		return Lock{}, format.Corruptf("%s: checksum mismatch", object)
	}
	if err := l.validate(); err != nil {
		return Lock{}, format.Corruptf("%s: %v", object, err)
	}
	return l, nil
}
