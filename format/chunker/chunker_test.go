package chunker

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// tinyParams exercise all three regions with little data; edgeParams have
// no normalization regions at all (Min = Avg = Max: fixed-size chunks).
var (
	tinyParams = Params{Min: 64, Avg: 256, Max: 1024}
	edgeParams = Params{Min: 256, Avg: 256, Max: 256}
	// noLongParams has Avg == Max: only the maskS region, then a forced cut.
	noLongParams = Params{Min: 100, Avg: 512, Max: 512}
)

func TestGearPinned(t *testing.T) {
	// The first entries of the zero-seed table and of the seed 0,1,...,31.
	// If these change, every repository's chunk boundaries change.
	want := [4]uint64{0xa67ee2eefeb58aed, 0x4fd6c5ba8ad5ed33, 0xf69f9757a30e9e98, 0xaea8cc8ec58d4e7a}
	if got := [4]uint64(DefaultGear[:4]); got != want {
		t.Errorf("DefaultGear[:4] = %#x, want %#x", got, want)
	}
	want = [4]uint64{0x4b819e6666bb31ab, 0x7a31790a7ca6b676, 0x371b004be95e8997, 0xd5b309d64cb7a022}
	if got := [4]uint64(NewGear(countingSeed())[:4]); got != want {
		t.Errorf("NewGear(0..31)[:4] = %#x, want %#x", got, want)
	}
}

// countingSeed returns the seed bytes 0, 1, ..., 31.
func countingSeed() [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

// reference is the algorithm exactly as SPEC.md states it, byte at a time,
// hashing every chunk from its first byte. It checks that the optimized
// search (which starts hashing at Min-64 and advances two bytes at once)
// cuts at the same places.
func reference(data []byte, p Params, g *Gear) []int {
	avgBits := 0
	for 1<<avgBits < p.Avg {
		avgBits++
	}
	maskS := ^uint64(0) << (64 - (avgBits + 2))
	maskL := ^uint64(0) << (64 - (avgBits - 2))
	var ends []int
	for start := 0; start < len(data); {
		n := len(data) - start
		var h uint64
		for i := 0; i < len(data)-start; i++ {
			h = h<<1 + g[data[start+i]]
			l := i + 1
			if l == p.Max ||
				(l >= p.Min && l < p.Avg && h&maskS == 0) ||
				(l >= p.Avg && l < p.Max && h&maskL == 0) {
				n = l
				break
			}
		}
		start += n
		ends = append(ends, start)
	}
	return ends
}

// testInputs returns named inputs that cover empty, tiny, boundary-sized,
// random and degenerate (constant) data.
func testInputs(p Params) map[string][]byte {
	rnd := xof("holdfast chunker test input", 4*p.Max+12345)
	in := map[string][]byte{
		"empty":   nil,
		"one":     rnd[:1],
		"63":      rnd[:63],
		"min-1":   rnd[:p.Min-1],
		"min":     rnd[:p.Min],
		"min+1":   rnd[:p.Min+1],
		"max-1":   rnd[:p.Max-1],
		"max":     rnd[:p.Max],
		"max+1":   rnd[:p.Max+1],
		"random":  rnd,
		"zeros":   make([]byte, 3*p.Max+7),
		"ones":    bytes.Repeat([]byte{0xff}, 2*p.Max+1),
		"pattern": bytes.Repeat([]byte("holdfast"), p.Max/2+3),
	}
	return in
}

func TestInvariants(t *testing.T) {
	for _, p := range []Params{tinyParams, edgeParams, noLongParams, smallParams, {Min: 64, Avg: 256, Max: 256}} {
		for name, data := range testInputs(p) {
			t.Run(p.String()+"/"+name, func(t *testing.T) {
				want := reference(data, p, DefaultGear)
				got := Boundaries(data, p, DefaultGear)
				if !slices.Equal(got, want) {
					t.Fatalf("Boundaries = %v\nreference = %v", got, want)
				}
				chunks := chunkAll(t, bytes.NewReader(data), p, DefaultGear)
				if e := ends(chunks); !slices.Equal(e, want) {
					t.Fatalf("Chunker ends = %v\nreference = %v", e, want)
				}
				checkChunks(t, data, chunks, p)
			})
		}
	}
}

// checkChunks verifies that chunks concatenate to data and respect p.
func checkChunks(t *testing.T, data []byte, chunks [][]byte, p Params) {
	t.Helper()
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatalf("concatenated chunks differ from input (%d vs %d bytes)", len(got), len(data))
	}
	for i, c := range chunks {
		last := i == len(chunks)-1
		if len(c) > p.Max || len(c) == 0 || (!last && len(c) < p.Min) {
			t.Fatalf("chunk %d/%d has %d bytes, params %v", i, len(chunks), len(c), p)
		}
	}
}

func TestDefaultParamsLarge(t *testing.T) {
	data := xof("holdfast chunker large input", 40<<20)
	chunks := chunkAll(t, bytes.NewReader(data), DefaultParams, DefaultGear)
	checkChunks(t, data, chunks, DefaultParams)
	if e, want := ends(chunks), Boundaries(data, DefaultParams, DefaultGear); !slices.Equal(e, want) {
		t.Fatalf("Chunker ends %v != Boundaries %v", e, want)
	}
	if !testing.Short() {
		if e, want := ends(chunks), reference(data, DefaultParams, DefaultGear); !slices.Equal(e, want) {
			t.Fatalf("Chunker ends %v != reference %v", e, want)
		}
	}
}

func TestMeanChunkSize(t *testing.T) {
	// With Min = Avg/2 and normalization level 2 the expected size on random
	// data is about 1.19 Avg: 1/8 of chunks cut below Avg, the rest about
	// Avg/4 after it.
	data := xof("holdfast chunker mean size", 32<<20)
	n := len(Boundaries(data, smallParams, DefaultGear))
	mean := float64(len(data)) / float64(n)
	if mean < 1.1*float64(smallParams.Avg) || mean > 1.3*float64(smallParams.Avg) {
		t.Errorf("mean chunk size %.0f, want about %.0f", mean, 1.19*float64(smallParams.Avg))
	}
}

func TestEmptyInput(t *testing.T) {
	c, err := New(bytes.NewReader(nil), smallParams, DefaultGear)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if b, err := c.Next(); err != io.EOF || b != nil {
			t.Fatalf("Next on empty input = %q, %v; want nil, io.EOF", b, err)
		}
	}
	if b := Boundaries(nil, smallParams, DefaultGear); len(b) != 0 {
		t.Fatalf("Boundaries(nil) = %v", b)
	}
}

func TestResync(t *testing.T) {
	data := xof("holdfast chunker resync", 8<<20)
	orig := chunkAll(t, bytes.NewReader(data), smallParams, DefaultGear)
	for _, prefix := range []int{1, 17, 4096, 100000} {
		shifted := append(xof("prefix", prefix), data...)
		got := chunkSet(chunkAll(t, bytes.NewReader(shifted), smallParams, DefaultGear))
		kept := 0
		for _, c := range orig {
			if got[string(c)] {
				kept++
			}
		}
		// Only the original chunks around the insertion may be lost.
		if kept < len(orig)-2 {
			t.Errorf("prefix %d: %d of %d original chunks kept, want all but <= 2", prefix, kept, len(orig))
		}
	}
}

// chunkSet returns the set of chunk contents.
func chunkSet(chunks [][]byte) map[string]bool {
	m := make(map[string]bool, len(chunks))
	for _, c := range chunks {
		m[string(c)] = true
	}
	return m
}

func TestSeedsDiffer(t *testing.T) {
	data := xof("holdfast chunker seeds", 2<<20)
	a := Boundaries(data, smallParams, DefaultGear)
	b := Boundaries(data, smallParams, NewGear(countingSeed()))
	common := 0
	set := make(map[int]bool)
	for _, e := range a[:len(a)-1] {
		set[e] = true
	}
	for _, e := range b[:len(b)-1] {
		if set[e] {
			common++
		}
	}
	// A shared cut is a coincidence; a few are expected, many mean the seed
	// does not reach the table.
	if common > len(a)/10 {
		t.Errorf("%d of %d cut points shared between seeds", common, len(a))
	}
	if *NewGear(countingSeed()) == *DefaultGear {
		t.Error("different seeds gave the same gear table")
	}
}

func TestResetReuse(t *testing.T) {
	inputs := [][]byte{
		xof("reset a", 300000),
		nil,
		xof("reset b", 70000),
		make([]byte, 200000),
		xof("reset c", 1),
	}
	c, err := New(nil, smallParams, DefaultGear)
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range inputs {
		c.Reset(bytes.NewReader(data))
		got := drain(t, c)
		want := chunkAll(t, bytes.NewReader(data), smallParams, DefaultGear)
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("input %d: reused chunker differs from a fresh one", i)
		}
	}
	// Reset in the middle of an input discards the rest of it.
	c.Reset(bytes.NewReader(inputs[0]))
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	c.Reset(bytes.NewReader(inputs[2]))
	if got, want := drain(t, c), chunkAll(t, bytes.NewReader(inputs[2]), smallParams, DefaultGear); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatal("Reset mid-input: chunks differ from a fresh chunker")
	}
}

func TestNoAllocs(t *testing.T) {
	data := xof("holdfast chunker allocs", 1<<20)
	r := bytes.NewReader(data)
	c, err := New(r, smallParams, DefaultGear)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		r.Reset(data)
		c.Reset(r)
		for {
			if _, err := c.Next(); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per input, want 0", allocs)
	}
}

func TestShortReads(t *testing.T) {
	data := xof("holdfast chunker short reads", 3*smallParams.Max+999)
	want := Boundaries(data, smallParams, DefaultGear)
	for name, r := range map[string]io.Reader{
		"one-byte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
		"data-err": iotest.DataErrReader(bytes.NewReader(data)),
		"chunks":   &stutterReader{data: data},
	} {
		t.Run(name, func(t *testing.T) {
			chunks := chunkAll(t, r, smallParams, DefaultGear)
			if got := ends(chunks); !slices.Equal(got, want) {
				t.Fatalf("ends = %v, want %v", got, want)
			}
			checkChunks(t, data, chunks, smallParams)
		})
	}
}

// stutterReader returns data in pieces of varying size, with occasional
// empty reads.
type stutterReader struct {
	data []byte
	n    int
}

func (r *stutterReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.n++
	k := min(len(p), len(r.data), (r.n*7919)%20000)
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

func TestReadError(t *testing.T) {
	errBoom := errors.New("boom")
	data := xof("holdfast chunker read error", 200000)
	want := Boundaries(data, smallParams, DefaultGear)
	for _, at := range []int{0, 1, 5000, 100000, len(data)} {
		r := io.MultiReader(bytes.NewReader(data[:at]), iotest.ErrReader(errBoom))
		c, err := New(r, smallParams, DefaultGear)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		off := 0
		for {
			b, err := c.Next()
			if err != nil {
				if !errors.Is(err, errBoom) {
					t.Fatalf("at %d: error %v, want boom", at, err)
				}
				break
			}
			off += len(b)
			got = append(got, off)
		}
		// Chunks decided before the error are the true ones; the partial
		// tail is never passed off as a chunk.
		if !slices.Equal(got, want[:len(got)]) || off > at {
			t.Fatalf("at %d: chunks before error end at %v, true ends %v", at, got, want)
		}
		if _, err := c.Next(); !errors.Is(err, errBoom) {
			t.Fatalf("at %d: error not sticky: %v", at, err)
		}
	}
}

func TestNoProgress(t *testing.T) {
	c, err := New(zeroReader{}, smallParams, DefaultGear)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next over a reader that never returns data: %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestNewRejects(t *testing.T) {
	for _, p := range []Params{
		{},
		{Min: 64, Avg: 300, Max: 1024},
		{Min: 63, Avg: 256, Max: 1024},
		{Min: 512, Avg: 256, Max: 1024},
		{Min: 64, Avg: 256, Max: 255},
		{Min: 64, Avg: 256, Max: 16<<20 + 1},
	} {
		if _, err := New(nil, p, DefaultGear); err == nil {
			t.Errorf("New accepted params %v", p)
		}
	}
	if _, err := New(nil, smallParams, nil); err == nil {
		t.Error("New accepted a nil gear table")
	}
}

func TestForcedCut(t *testing.T) {
	// Over a constant run the hash is constant (-gear[0] for zeros); for the
	// zero seed it matches no mask, so only forced cuts at Max remain.
	for _, p := range []Params{DefaultParams, smallParams, tinyParams} {
		data := make([]byte, 3*p.Max+7)
		want := []int{p.Max, 2 * p.Max, 3 * p.Max, 3*p.Max + 7}
		if got := Boundaries(data, p, DefaultGear); !slices.Equal(got, want) {
			t.Errorf("%v: zeros cut at %v, want %v", p, got, want)
		}
	}
}
