package fuzz

import (
	"bytes"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// indexRoundTrip decodes with dec and re-encodes with enc.
func indexRoundTrip[T any](dec func([]byte) (T, error), enc func(T) ([]byte, error)) func([]byte) ([]byte, error) {
	return func(b []byte) ([]byte, error) {
		x, err := dec(b)
		if err != nil {
			return nil, err
		}
		return enc(x)
	}
}

// indexKeyParsers are the key parsers, each returning the re-built key.
var indexKeyParsers = []func([]byte) ([]byte, error){
	func(k []byte) ([]byte, error) { n, err := indexkey.ParseRepoKey(k); return indexkey.RepoKey(n), err },
	func(k []byte) ([]byte, error) {
		r, err := indexkey.ParseRepoNameKey(k)
		return indexkey.RepoNameKey(r), err
	},
	func(k []byte) ([]byte, error) {
		r, id, err := indexkey.ParseChunkKey(k)
		return indexkey.ChunkKey(r, id), err
	},
	func(k []byte) ([]byte, error) {
		r, id, err := indexkey.ParsePackKey(k)
		return indexkey.PackKey(r, id), err
	},
	func(k []byte) ([]byte, error) {
		r, id, err := indexkey.ParseSnapshotKey(k)
		return indexkey.SnapshotKey(r, id), err
	},
	func(k []byte) ([]byte, error) {
		r, id, err := indexkey.ParseLockKey(k)
		return indexkey.LockKey(r, id), err
	},
	func(k []byte) ([]byte, error) {
		r, id, err := indexkey.ParseKeyFileKey(k)
		return indexkey.KeyFileKey(r, id), err
	},
	func(k []byte) ([]byte, error) { h, err := indexkey.ParseTokenKey(k); return indexkey.TokenKey(h), err },
	func(k []byte) ([]byte, error) {
		r, s, err := indexkey.ParseSessionKey(k)
		return indexkey.SessionKey(r, s), err
	},
	func(k []byte) ([]byte, error) {
		r, s, c, err := indexkey.ParsePinKey(k)
		return indexkey.PinKey(r, s, c), err
	},
	func(k []byte) ([]byte, error) { r, err := indexkey.ParseGCKey(k); return indexkey.GCKey(r), err },
}

// indexValueDecoders are the value decoders, each returning the re-encoded
// value.
var indexValueDecoders = []func([]byte) ([]byte, error){
	indexRoundTrip(indexkey.DecodeMeta, indexkey.EncodeMeta),
	indexRoundTrip(indexkey.DecodeRepoRecord, indexkey.EncodeRepoRecord),
	indexRoundTrip(indexkey.DecodeRepoName, indexkey.EncodeRepoName),
	indexRoundTrip(indexkey.DecodeChunkLoc, indexkey.EncodeChunkLoc),
	indexRoundTrip(indexkey.DecodePackRecord, indexkey.EncodePackRecord),
	indexRoundTrip(indexkey.DecodeSnapshotRecord, indexkey.EncodeSnapshotRecord),
	indexRoundTrip(indexkey.DecodeLockRecord, indexkey.EncodeLockRecord),
	indexRoundTrip(indexkey.DecodeKeyFile, indexkey.EncodeKeyFile),
	indexRoundTrip(indexkey.DecodeTokenRecord, indexkey.EncodeTokenRecord),
	indexRoundTrip(indexkey.DecodeSessionRecord, indexkey.EncodeSessionRecord),
	func(v []byte) ([]byte, error) {
		if present, err := indexkey.DecodePinPresent(v); present || err != nil {
			return indexkey.EncodePresentPin(), err
		}
		return indexkey.EncodePin(), nil
	},
	indexRoundTrip(indexkey.DecodeGCState, indexkey.EncodeGCState),
}

// indexCheck runs one decoder: no panic, corruption errors only, and what
// decodes re-encodes to the same bytes.
func indexCheck(t *testing.T, what string, f func([]byte) ([]byte, error), in []byte) {
	out, err := f(in)
	if err != nil {
		if !format.IsCorrupt(err) {
			t.Fatalf("%s: error is not corruption: %v", what, err)
		}
		return
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("%s: %x re-encodes as %x", what, in, out)
	}
}

// FuzzIndexKey feeds the input to the key parser chosen by sel (one target
// for all eleven, so each gets the other's corpus too).
func FuzzIndexKey(f *testing.F) {
	f.Add(uint8(2), indexkey.ChunkKey(7, format.ID{1, 2, 3}))
	f.Add(uint8(0), indexkey.RepoKey("prod-db"))
	f.Add(uint8(9), indexkey.PinKey(1, indexkey.SessionID{9}, format.ID{8}))
	f.Fuzz(func(t *testing.T, sel uint8, k []byte) {
		indexCheck(t, "key", indexKeyParsers[int(sel)%len(indexKeyParsers)], k)
	})
}

// FuzzIndexValue feeds the input to the value decoder chosen by sel.
func FuzzIndexValue(f *testing.F) {
	loc, _ := indexkey.EncodeChunkLoc(indexkey.ChunkLoc{Pack: format.ID{1}, Offset: 8, Length: 100})
	f.Add(uint8(3), loc)
	rec, _ := indexkey.EncodePackRecord(indexkey.PackRecord{Length: 1 << 20, K: 4, M: 2, Stores: []uint16{0, 1, 2, 3, 4, 5}})
	f.Add(uint8(4), rec)
	snap, _ := indexkey.EncodeSnapshotRecord(indexkey.SnapshotRecord{Header: indexkey.ObjectRef{Inline: []byte("h")}, Refs: indexkey.ObjectRef{Name: "r/snapshots/x", Size: 10, Stores: []uint16{0}}, Committed: time.Unix(1700000000, 0)})
	f.Add(uint8(5), snap)
	f.Fuzz(func(t *testing.T, sel uint8, v []byte) {
		indexCheck(t, "value", indexValueDecoders[int(sel)%len(indexValueDecoders)], v)
	})
}
