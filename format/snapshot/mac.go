package snapshot

import (
	"crypto/subtle"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// errMAC is the one message for a failed MAC check. The server cannot run
// the check (it has no key); clients run it before trusting a header.
const errMAC = "snapshot header MAC mismatch: not written by a holder of the repository key"

// mac computes keyed BLAKE3-256, keyed with the repository's MAC key, over
// the encoding of h without its final MACSize bytes (the MAC field).
func (h *Header) mac(macKey [32]byte) [MACSize]byte {
	hs, err := blake3.NewKeyed(macKey[:])
	if err != nil {
		panic(err) // unreachable: the key is exactly 32 bytes
	}
	hs.Write(h.appendUnsigned(nil))
	var sum [MACSize]byte
	hs.Sum(sum[:0])
	return sum
}

// Sign sets h.MAC for the repository MAC key. Any later change to a field
// makes Verify fail and changes the ID.
func (h *Header) Sign(macKey [32]byte) { h.MAC = h.mac(macKey) }

// Verify checks h.MAC against the repository MAC key. A mismatch is
// reported as corruption: the header was changed, or written without the
// key.
func (h *Header) Verify(macKey [32]byte) error {
	want := h.mac(macKey)
	if subtle.ConstantTimeCompare(want[:], h.MAC[:]) != 1 {
		return format.Corruptf(errMAC)
	}
	return nil
}
