package keys

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
	"github.com/holdfast-backup/holdfast/internal/hugeheap"
)

// Key file constants (SPEC.md, "Key files").
const (
	Magic   = "HFKF" // first four bytes of every key file
	Version = 1      // the key file version this build writes and reads

	KDFArgon2id = 1 // the only key derivation function: Argon2id (RFC 9106)

	SaltSize    = 16
	NonceSize   = chacha20poly1305.NonceSizeX // 24
	MaxLabelLen = 256

	// headerFixedSize is everything before the label: magic, version, KDF
	// ID, time, memory, threads, salt, nonce, created.
	headerFixedSize = 4 + 1 + 1 + 4 + 4 + 1 + SaltSize + NonceSize + 8
	// sealedSize is the ciphertext and tag of a version 1 payload.
	sealedSize = masterPayloadSize + chacha20poly1305.Overhead
)

// Bounds on Argon2id parameters. Unwrap checks them before it runs the KDF,
// so a hostile key file cannot make a client spend more than about 1 GiB
// and a bounded number of passes on it.
const (
	MinKDFMemoryKiB = 64      // also at least 8 KiB per thread (RFC 9106)
	MaxKDFMemoryKiB = 1 << 20 // 1 GiB
	MaxKDFTime      = 64
	MaxKDFThreads   = 64
)

// KDFParams are the Argon2id cost parameters of one key file.
type KDFParams struct {
	Time      uint32 // passes over memory, >= 1
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes (degree of parallelism)
}

var (
	// DefaultKDF is what new key files use: RFC 9106's second recommended
	// option (64 MiB, 3 passes) with 4 lanes. Unwrap takes about 75 ms on
	// two AMD EPYC cores (BenchmarkUnwrap); the cost grows linearly in
	// time and memory.
	DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

	// TestKDF is the cheapest setting allowed. Use it in tests only: it
	// offers almost no protection against password guessing.
	TestKDF = KDFParams{Time: 1, MemoryKiB: MinKDFMemoryKiB, Threads: 1}
)

// Validate reports whether p is within the bounds every reader enforces.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxKDFTime:
		return fmt.Errorf("argon2 time %d not in [1, %d]", p.Time, MaxKDFTime)
	case p.Threads < 1 || p.Threads > MaxKDFThreads:
		return fmt.Errorf("argon2 threads %d not in [1, %d]", p.Threads, MaxKDFThreads)
	case p.MemoryKiB > MaxKDFMemoryKiB:
		return fmt.Errorf("argon2 memory %d KiB exceeds %d KiB", p.MemoryKiB, MaxKDFMemoryKiB)
	case p.MemoryKiB < MinKDFMemoryKiB || p.MemoryKiB < 8*uint32(p.Threads):
		return fmt.Errorf("argon2 memory %d KiB below minimum (%d KiB, and 8 KiB per thread)", p.MemoryKiB, MinKDFMemoryKiB)
	}
	return nil
}

// KeyFileInfo is the clear-text header of a key file: what [Inspect]
// returns without a password.
type KeyFileInfo struct {
	KDF     KDFParams
	Created time.Time // UTC, whole seconds
	Label   string    // who the key file is for, e.g. "alice@laptop"
}

// header is a decoded key file header.
type header struct {
	info  KeyFileInfo
	salt  []byte
	nonce []byte
	ad    []byte // every byte before the ciphertext
	box   []byte // ciphertext and tag
}

// Wrap seals m into a new key file protected by password. It reads the salt
// and then the nonce from rnd (nil means crypto/rand); created is stored in
// whole seconds. Several key files may wrap the same master, one per user
// or password.
func Wrap(m *Master, password []byte, kdf KDFParams, label string, created time.Time, rnd io.Reader) ([]byte, error) {
	switch {
	case len(password) == 0:
		return nil, errors.New("wrap key: empty password")
	case len(label) > MaxLabelLen:
		return nil, fmt.Errorf("wrap key: label is %d bytes, limit %d", len(label), MaxLabelLen)
	case !utf8.ValidString(label):
		return nil, errors.New("wrap key: label is not valid UTF-8")
	case created.Unix() < 0:
		return nil, fmt.Errorf("wrap key: creation time %v before 1970", created)
	}
	if err := kdf.Validate(); err != nil {
		return nil, fmt.Errorf("wrap key: %w", err)
	}
	if err := m.Chunker.Validate(); err != nil {
		return nil, fmt.Errorf("wrap key: %w", err)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var salt [SaltSize]byte
	var nonce [NonceSize]byte
	if _, err := io.ReadFull(rnd, salt[:]); err != nil {
		return nil, fmt.Errorf("wrap key: read random: %w", err)
	}
	if _, err := io.ReadFull(rnd, nonce[:]); err != nil {
		return nil, fmt.Errorf("wrap key: read random: %w", err)
	}

	var payload [masterPayloadSize]byte
	b := seal(m.appendPayload(payload[:0]), password, kdf, label, created, salt[:], nonce[:])
	clear(payload[:])
	return b, nil
}

// seal encodes a key file around payload. Wrap has checked the arguments.
func seal(payload, password []byte, kdf KDFParams, label string, created time.Time, salt, nonce []byte) []byte {
	b := make([]byte, 0, headerFixedSize+wire.UvarintLen(uint64(len(label)))+len(label)+len(payload)+chacha20poly1305.Overhead)
	b = append(b, Magic...)
	b = append(b, Version, KDFArgon2id)
	b = wire.AppendUint32(b, kdf.Time)
	b = wire.AppendUint32(b, kdf.MemoryKiB)
	b = append(b, kdf.Threads)
	b = append(b, salt...)
	b = append(b, nonce...)
	b = wire.AppendUint64(b, uint64(created.Unix()))
	b = wire.AppendString(b, label)
	ad := b // the whole header; Seal appends after it, so no overlap
	return newKEK(password, salt, kdf).Seal(b, nonce, payload, ad)
}

// Unwrap opens a key file with password. It returns ErrWrongPassword when
// the payload does not authenticate (see its doc: a tampered file looks
// the same) and a format.ErrCorrupt error for a malformed file. Bounds on
// the KDF parameters are checked before the KDF runs. The returned info is
// filled in whenever the header parsed, but it is authenticated only when
// err is nil.
func Unwrap(keyFile, password []byte) (*Master, KeyFileInfo, error) {
	h, err := parseHeader(keyFile)
	if err != nil {
		return nil, KeyFileInfo{}, err
	}
	aead := newKEK(password, h.salt, h.info.KDF)
	var buf [masterPayloadSize]byte
	payload, err := aead.Open(buf[:0], h.nonce, h.box, h.ad)
	if err != nil {
		return nil, h.info, ErrWrongPassword
	}
	m, err := decodePayload(payload)
	clear(buf[:])
	if err != nil {
		return nil, h.info, err
	}
	return m, h.info, nil
}

// Inspect decodes the clear-text header of a key file without the
// password. It verifies structure and bounds only: nothing in the header is
// authenticated until Unwrap succeeds.
func Inspect(keyFile []byte) (KeyFileInfo, error) {
	h, err := parseHeader(keyFile)
	return h.info, err
}

// parseHeader decodes and bounds-checks everything up to the ciphertext,
// and checks that exactly one version 1 sealed payload follows.
func parseHeader(b []byte) (header, error) {
	var h header
	r := wire.NewReader("key file", b)
	if m := r.Bytes(len(Magic), "magic"); r.Err() == nil && string(m) != Magic {
		return h, format.Corruptf("key file: bad magic %q", m)
	}
	if v := r.Byte("version"); r.Err() == nil && v != Version {
		return h, format.VersionErrorf("key file", v, Version)
	}
	if id := r.Byte("KDF ID"); r.Err() == nil && id != KDFArgon2id {
		return h, format.Corruptf("key file: unknown KDF %d", id)
	}
	h.info.KDF.Time = r.Uint32("argon2 time")
	h.info.KDF.MemoryKiB = r.Uint32("argon2 memory")
	h.info.KDF.Threads = r.Byte("argon2 threads")
	h.salt = r.Bytes(SaltSize, "salt")
	h.nonce = r.Bytes(NonceSize, "nonce")
	created := r.Uint64("creation time")
	h.info.Label = r.String("label", MaxLabelLen)
	end := r.Offset()
	h.box = r.Bytes(sealedSize, "sealed payload")
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return header{}, err
	}
	if err := h.info.KDF.Validate(); err != nil {
		return header{}, format.Corruptf("key file: %w", err)
	}
	if created > math.MaxInt64 {
		return header{}, format.Corruptf("key file: creation time %d out of range", created)
	}
	if !utf8.ValidString(h.info.Label) {
		return header{}, format.Corruptf("key file: label is not valid UTF-8")
	}
	h.info.Created = time.Unix(int64(created), 0).UTC()
	h.ad = b[:end]
	return h, nil
}

// newKEK derives the key-encryption key and returns its AEAD. p must have
// passed Validate.
func newKEK(password, salt []byte, p KDFParams) cipher.AEAD {
	// Argon2 allocates its memory itself and touches all of it once; in
	// 4 KiB pages that is half its time on a virtual machine.
	hugeheap.Advise(int(p.MemoryKiB) << 10)
	kek := argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	aead, err := chacha20poly1305.NewX(kek)
	clear(kek)
	if err != nil {
		panic("keys: " + err.Error()) // unreachable: the key size is fixed
	}
	return aead
}
