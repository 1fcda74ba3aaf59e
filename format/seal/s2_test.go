package seal

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/holdfast-backup/holdfast/format"
)

func testWriter(t testing.TB, c Compression) *Sealer {
	s, err := testSealer().Compressing(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRoundTripEveryWriter seals every plaintext with each writer and
// opens it with a Sealer of the default writer: readers take every
// compression whatever they write.
func TestRoundTripEveryWriter(t *testing.T) {
	reader := testSealer()
	for _, c := range []Compression{Zstd, S2, None} {
		w := testWriter(t, c)
		if w.Compression() != c {
			t.Fatalf("Compressing(%v) writes %v", c, w.Compression())
		}
		for name, p := range plaintexts() {
			id := w.ID(p)
			if id != reader.ID(p) {
				t.Fatalf("%v writer: IDs differ", c)
			}
			env, err := w.Seal([]byte("x"), TypeData, id, p, nil)
			if err != nil {
				t.Fatalf("%v, %s: %v", c, name, err)
			}
			env = env[1:]
			if got := Compression(env[2]); got != None && got != c {
				t.Fatalf("%v writer, %s: sealed with %v", c, name, got)
			}
			if len(env) > Overhead+len(p) {
				t.Fatalf("%v, %s: envelope of %d bytes for %d", c, name, len(env), len(p))
			}
			got, _, err := reader.Open([]byte("y"), id, env)
			if err != nil || got[0] != 'y' || !bytes.Equal(got[1:], p) {
				t.Fatalf("%v, %s: open: %v", c, name, err)
			}
		}
	}
	if _, err := testSealer().Compressing(7); err == nil {
		t.Error("Compressing(7) accepted")
	}
}

// TestS2CompressionDecision: the S2 writer follows the same rule as the
// zstd writer (SPEC.md §5.3), with S2 as the codec.
func TestS2CompressionDecision(t *testing.T) {
	s := testWriter(t, S2)
	want := map[string]Compression{
		"empty": None, "one byte": None, "text 4K": S2, "random 1K": None,
		"random 64K": None, "text 64K+1": S2, "random 64K+1": None,
		"half 1M": S2, "text max chunk": S2,
		"head 1K of 1M": None, "head 4K of 1M": None,
	}
	all := plaintexts()
	if worthTryingS2(all["head 1K of 1M"]) != skip || worthTryingS2(all["random 64K+1"]) != skip {
		t.Error("sample check does not skip what saves under 3%")
	}
	if worthTryingS2(all["half 1M"]) != compress {
		t.Error("sample check skips half compressible data")
	}
	for name, c := range want {
		p := all[name]
		env, err := s.Seal(nil, TypeData, s.ID(p), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := Compression(env[2]); got != c {
			t.Errorf("%s: compression %v, want %v", name, got, c)
		}
	}
	// The none writer never compresses.
	none := testWriter(t, None)
	p := all["text 4K"]
	if env, _ := none.Seal(nil, TypeData, none.ID(p), p, nil); Compression(env[2]) != None {
		t.Error("none writer compressed")
	}
}

// s2Block compresses p as Seal does.
func s2Block(p []byte) []byte { return s2.Encode(nil, p) }

// TestS2Bomb opens authenticated envelopes whose S2 block declares more
// than format.MaxChunkSize: refused from the declared length, before
// anything chunk-sized is allocated.
func TestS2Bomb(t *testing.T) {
	s := testSealer()
	id := s.ID(nil) // never reached: decompression fails first
	over := s2Block(make([]byte, format.MaxChunkSize+1))
	// A 5-byte uvarint that declares 1 GiB, then the over-limit block's
	// operations.
	huge := binary.AppendUvarint(nil, 1<<30)
	_, hdr := binary.Uvarint(over)
	huge = append(huge, over[hdr:]...)
	for name, payload := range map[string][]byte{"limit + 1": over, "declares 1 GiB": huge} {
		env := sealRaw(s, S2, id, payload)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := s.Open(nil, id, env)
		runtime.ReadMemStats(&after)
		wantCorrupt(t, name, err, "decompress")
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: allocated %d KiB", name, alloc>>10)
		}
	}
	p := make([]byte, format.MaxChunkSize)
	if got, _, err := s.Open(nil, s.ID(p), sealRaw(s, S2, s.ID(p), s2Block(p))); err != nil || len(got) != len(p) {
		t.Fatalf("chunk of exactly MaxChunkSize: %v", err)
	}
}

// TestS2BlockRules: the block must declare exactly what it holds and end
// where the payload ends.
func TestS2BlockRules(t *testing.T) {
	s := testSealer()
	p := repeatedText(1000)
	id := s.ID(p)
	block := s2Block(p)
	if got, _, err := s.Open(nil, id, sealRaw(s, S2, id, block)); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("genuine block: %v", err)
	}
	_, hdr := binary.Uvarint(block)
	declaring := func(n uint64) []byte {
		return append(binary.AppendUvarint(nil, n), block[hdr:]...)
	}
	cases := map[string][]byte{
		"empty":         nil,
		"declares less": declaring(500),
		"declares more": declaring(2000),
		"trailing byte": append(bytes.Clone(block), 0),
		"two blocks":    append(bytes.Clone(block), block...),
		"truncated":     block[:len(block)-1],
		"bad varint":    bytes.Repeat([]byte{0xff}, 11),
	}
	for name, payload := range cases {
		_, _, err := s.Open(nil, id, sealRaw(s, S2, id, payload))
		wantCorrupt(t, name, err, "decompress")
	}
}

// FuzzDecompressS2 reaches the S2 checks directly (through Open they sit
// behind the AEAD). Whatever decodes must agree with the unrestricted
// decoder and stay within the limit.
func FuzzDecompressS2(f *testing.F) {
	f.Add(s2Block(repeatedText(5000)))
	f.Add(s2Block(nil))
	f.Add(s2Block(make([]byte, 300)))
	f.Add(s2Block(xof("r", 2000)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := decompressS2([]byte("pre"), payload)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(out, []byte("pre")) || len(out)-3 > format.MaxChunkSize {
			t.Fatalf("decompressS2 returned %d bytes", len(out))
		}
		want, err := s2.Decode(nil, payload)
		if err != nil || !bytes.Equal(out[3:], want) {
			t.Fatalf("bounded and plain decoders disagree (plain: %v)", err)
		}
	})
}
