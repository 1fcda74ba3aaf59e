package fuzz

import (
	"bytes"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/seal"
)

var sealFuzzer = seal.NewSealer(keyFileMaster().Derive())

// sealSeedNonce is the fixed nonce of the envelope seeds: bytes 100..123.
func sealSeedNonce() []byte {
	n := make([]byte, seal.NonceSize)
	for i := range n {
		n[i] = byte(100 + i)
	}
	return n
}

// sealWriter returns the fuzzers' sealer writing c.
func sealWriter(c seal.Compression) *seal.Sealer {
	s, err := sealFuzzer.Compressing(c)
	if err != nil {
		panic(err)
	}
	return s
}

func sealSeed(t seal.Type, p []byte) []byte { return sealSeedBy(sealFuzzer, t, p) }

func sealSeedBy(s *seal.Sealer, t seal.Type, p []byte) []byte {
	env, err := s.Seal(nil, t, s.ID(p), p, sealSeedNonce())
	if err != nil {
		panic(err)
	}
	return env
}

var sealSeedText = bytes.Repeat([]byte("Holdfast seals every chunk. "), 40)

// FuzzSealHeader: never panics; failures are corrupt; what parses is the
// first three bytes of an envelope within the size limits.
func FuzzSealHeader(f *testing.F) {
	f.Add(sealSeed(seal.TypeData, nil))
	f.Add(sealSeed(seal.TypeTree, sealSeedText))
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := seal.ParseHeader(data)
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("error %v is not corrupt", err)
			}
			return
		}
		if len(data) < seal.Overhead || len(data) > format.MaxEnvelopeSize ||
			!bytes.Equal(data[:3], []byte{h.Version, byte(h.Type), byte(h.Compression)}) {
			t.Fatalf("accepted %+v from %d bytes", h, len(data))
		}
	})
}

// FuzzSealOpen: opening arbitrary bytes under an arbitrary ID never panics and
// fails only with corrupt; what opens is an envelope Seal made (same
// nonce, same bytes, by the writer of its compression), with a plaintext
// that hashes to the ID.
func FuzzSealOpen(f *testing.F) {
	for _, p := range [][]byte{nil, {'a'}, sealSeedText} {
		for _, typ := range []seal.Type{seal.TypeData, seal.TypeTree} {
			id := sealFuzzer.ID(p)
			f.Add(sealSeed(typ, p), id[:])
			f.Add(sealSeedBy(sealWriter(seal.S2), typ, p), id[:])
		}
	}
	f.Fuzz(func(t *testing.T, env, idBytes []byte) {
		var id format.ID
		copy(id[:], idBytes)
		p, typ, err := sealFuzzer.Open(nil, id, env)
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("error %v is not corrupt", err)
			}
			return
		}
		if sealFuzzer.ID(p) != id {
			t.Fatal("opened a plaintext that does not hash to its ID")
		}
		// The seeds' writers: the compression byte says which.
		again, err := sealWriter(seal.Compression(env[2])).Seal(nil, typ, id, p, env[3:27])
		if err != nil || !bytes.Equal(again, env) {
			t.Fatalf("re-sealing gave different bytes (%v)", err)
		}
	})
}

// FuzzSealRoundTrip: any plaintext seals and opens back, with either type,
// and the envelope is never larger than plaintext plus Overhead.
func FuzzSealRoundTrip(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(sealSeedText, true)
	f.Add(bytes.Repeat([]byte{0}, 70000), false)
	f.Fuzz(func(t *testing.T, p []byte, tree bool) {
		typ := seal.TypeData
		if tree {
			typ = seal.TypeTree
		}
		id := sealFuzzer.ID(p)
		env, err := sealFuzzer.Seal([]byte("prefix"), typ, id, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		env = env[len("prefix"):]
		if len(env) > len(p)+seal.Overhead {
			t.Fatalf("%d-byte envelope for %d bytes", len(env), len(p))
		}
		got, gotType, err := sealFuzzer.Open(nil, id, env)
		if err != nil || gotType != typ || !bytes.Equal(got, p) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
