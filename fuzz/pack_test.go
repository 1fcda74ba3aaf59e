package fuzz

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/pack"
)

// packSeed builds a small valid pack: n records of sizes 1..n*7 cut from
// a fixed byte pattern, with IDs 1..n.
func packSeed(n int) []byte {
	b := pack.NewBuilder()
	for i := 1; i <= n; i++ {
		env := bytes.Repeat([]byte{byte(i)}, i*7)
		if err := b.Add(format.ID{byte(i)}, env); err != nil {
			panic(err)
		}
	}
	data, _, _, err := b.Finish()
	if err != nil {
		panic(err)
	}
	return bytes.Clone(data)
}

// FuzzPackParse: Parse never panics, and a pack it accepts is exactly what
// a Builder makes of the same records (a pack has one encoding).
func FuzzPackParse(f *testing.F) {
	f.Add(packSeed(1))
	f.Add(packSeed(3))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := pack.Parse(data)
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("error is not corruption: %v", err)
			}
			return
		}
		b := pack.NewBuilder()
		for _, e := range entries {
			if err := b.Add(e.ID, data[e.Offset:e.End()]); err != nil {
				t.Fatal(err)
			}
		}
		again, _, _, err := b.Finish()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-built pack differs: %v", err)
		}
	})
}

// FuzzPackFooter: DecodeFooter never panics and re-encodes what it accepts.
func FuzzPackFooter(f *testing.F) {
	p := packSeed(2)
	f.Add(p[len(p)-pack.FooterSize:])
	f.Fuzz(func(t *testing.T, b []byte) {
		ft, err := pack.DecodeFooter(b)
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("error is not corruption: %v", err)
			}
			return
		}
		if !bytes.Equal(pack.AppendFooter(nil, ft), b) {
			t.Fatal("re-encoded footer differs")
		}
	})
}

// FuzzPackTrailer gives DecodeTrailer arbitrary entries behind a footer
// whose hash and length match them, so the fuzzer reaches the entry
// checks: whatever decodes must tile the records and re-encode exactly.
func FuzzPackTrailer(f *testing.F) {
	p := packSeed(3)
	ft, _ := pack.DecodeFooter(p[len(p)-pack.FooterSize:])
	f.Add(p[ft.TrailerOffset:len(p)-pack.FooterSize], ft.TrailerOffset)
	f.Fuzz(func(t *testing.T, tr []byte, trailerOff uint64) {
		ft := pack.Footer{TrailerOffset: trailerOff, Count: uint32(len(tr) / pack.EntrySize), TrailerHash: blake3.Sum256(tr)}
		entries, err := pack.DecodeTrailer(tr, ft, ft.PackLen())
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("error is not corruption: %v", err)
			}
			return
		}
		next := uint64(pack.HeaderSize)
		for _, e := range entries {
			if e.Offset != next || e.Length == 0 {
				t.Fatalf("accepted entry %+v at %d", e, next)
			}
			next = e.End()
		}
		if next != trailerOff || !bytes.Equal(pack.AppendTrailer(nil, entries), tr) {
			t.Fatal("accepted trailer does not tile or re-encode")
		}
	})
}

// FuzzPackRoundTrip builds packs from arbitrary records (sizes taken from
// the input) with both Builder and Writer, and parses them back.
func FuzzPackRoundTrip(f *testing.F) {
	f.Add([]byte("\x00\x05hello\x00\x01!"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b := pack.NewBuilder()
		var wbuf bytes.Buffer
		w := pack.NewWriter(&wbuf)
		var envs [][]byte
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			n = min(n, len(in))
			env := in[:n]
			in = in[n:]
			id := format.ID(blake3.Sum256(append([]byte{byte(len(envs))}, env...)))
			errB, errW := b.Add(id, env), w.Add(id, env)
			if (errB == nil) != (errW == nil) {
				t.Fatalf("Builder and Writer disagree: %v / %v", errB, errW)
			}
			if errB != nil {
				if n != 0 {
					t.Fatal(errB)
				}
				return // empty envelope: refused, and the builders are now broken
			}
			envs = append(envs, env)
		}
		data, id, entries, err := b.Finish()
		wid, _, werr := w.Finish()
		if len(envs) == 0 {
			if err == nil || werr == nil {
				t.Fatal("empty pack finished")
			}
			return
		}
		if err != nil || werr != nil || wid != id || !bytes.Equal(wbuf.Bytes(), data) {
			t.Fatalf("finish: %v / %v", err, werr)
		}
		parsed, err := pack.Parse(data)
		if err != nil || len(parsed) != len(envs) || pack.IDOf(data) != id {
			t.Fatalf("parse: %v", err)
		}
		for i, e := range parsed {
			if e != entries[i] || !bytes.Equal(data[e.Offset:e.End()], envs[i]) {
				t.Fatalf("entry %d differs", i)
			}
		}
	})
}
