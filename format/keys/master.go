package keys

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Master is a repository's secret master key together with the parameters
// that are fixed for the repository's lifetime. It is what a key file wraps;
// every other key is derived from Key (see [Master.Derive]).
type Master struct {
	Key     [32]byte       // secret; never leaves the client
	RepoID  [16]byte       // random, names the repository; not secret
	Chunker chunker.Params // content-defined chunking parameters
}

// NewMaster creates the master key of a new repository, reading Key and
// then RepoID from rnd (nil means crypto/rand).
func NewMaster(rnd io.Reader, p chunker.Params) (*Master, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new master key: %w", err)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	m := &Master{Chunker: p}
	if _, err := io.ReadFull(rnd, m.Key[:]); err != nil {
		return nil, fmt.Errorf("new master key: read random: %w", err)
	}
	if _, err := io.ReadFull(rnd, m.RepoID[:]); err != nil {
		return nil, fmt.Errorf("new master key: read random: %w", err)
	}
	return m, nil
}

// String describes m without its secret key, so that a stray %v in a log
// line cannot leak it.
func (m *Master) String() string {
	return fmt.Sprintf("keys.Master{RepoID: %x, Chunker: %s, Key: <redacted>}", m.RepoID, m.Chunker)
}

// GoString is String, for %#v.
func (m *Master) GoString() string { return m.String() }

// Key derivation contexts (BLAKE3 derive_key mode). They are part of the
// format: changing one changes every chunk ID or makes data unreadable.
const (
	ContextID   = "holdfast 2026-11-22 chunk id"
	ContextAEAD = "holdfast 2026-11-22 chunk aead"
	ContextMAC  = "holdfast 2026-11-22 snapshot mac"
	ContextGear = "holdfast 2026-11-22 chunker gear"
)

// Keys are the working keys derived from a [Master]. Each is used for one
// purpose only, so compromise of one use (say, a weakness in the gear
// table seeding) says nothing about the others.
type Keys struct {
	ID   [32]byte // keys BLAKE3-256 chunk IDs (package seal)
	AEAD [32]byte // XChaCha20-Poly1305 key of chunk envelopes (package seal)
	MAC  [32]byte // authenticates snapshot headers (package snapshot)
	Gear [32]byte // seeds the chunker's gear table (package chunker)
}

// String hides the keys, for the same reason as [Master.String].
func (k Keys) String() string { return "keys.Keys{<redacted>}" }

// GoString is String, for %#v.
func (k Keys) GoString() string { return k.String() }

// Derive computes the working keys: BLAKE3 derive_key(context, m.Key) with
// the Context* strings.
func (m *Master) Derive() Keys {
	var k Keys
	blake3.DeriveKey(ContextID, m.Key[:], k.ID[:])
	blake3.DeriveKey(ContextAEAD, m.Key[:], k.AEAD[:])
	blake3.DeriveKey(ContextMAC, m.Key[:], k.MAC[:])
	blake3.DeriveKey(ContextGear, m.Key[:], k.Gear[:])
	return k
}

// masterPayloadSize is the plaintext size of a version 1 key file payload:
// version, key, repository ID, three chunker sizes.
const masterPayloadSize = 1 + 32 + 16 + 3*4

const masterPayloadVersion = 1

// appendPayload encodes m as the key file payload.
func (m *Master) appendPayload(b []byte) []byte {
	b = append(b, masterPayloadVersion)
	b = append(b, m.Key[:]...)
	b = append(b, m.RepoID[:]...)
	b = wire.AppendUint32(b, uint32(m.Chunker.Min))
	b = wire.AppendUint32(b, uint32(m.Chunker.Avg))
	return wire.AppendUint32(b, uint32(m.Chunker.Max))
}

// decodePayload decodes an authenticated payload. It can only fail if a
// writer that knew the password produced something this build does not
// accept (a newer payload version, or invalid chunker parameters).
func decodePayload(b []byte) (*Master, error) {
	r := wire.NewReader("key file payload", b)
	if v := r.Byte("version"); r.Err() == nil && v != masterPayloadVersion {
		return nil, format.VersionErrorf("key file payload", v, masterPayloadVersion)
	}
	m := &Master{}
	copy(m.Key[:], r.Bytes(len(m.Key), "master key"))
	copy(m.RepoID[:], r.Bytes(len(m.RepoID), "repository ID"))
	m.Chunker.Min = int(r.Uint32("chunker min"))
	m.Chunker.Avg = int(r.Uint32("chunker avg"))
	m.Chunker.Max = int(r.Uint32("chunker max"))
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := m.Chunker.Validate(); err != nil {
		return nil, format.Corruptf("key file payload: %w", err)
	}
	return m, nil
}
