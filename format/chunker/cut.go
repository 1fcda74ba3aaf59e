package chunker

import "math/bits"

// cutter holds everything the cut-point search needs, precomputed from a
// validated Params and a gear table.
//
// Positions are 0-based indices into the chunk being formed. Hashing byte i
// means h = h<<1 + gear[data[i]] (mod 2^64). A candidate length L = i+1 is
// tested right after hashing byte i. Because every byte is shifted out of the
// 64-bit state after 64 further steps, the hash after byte i depends only on
// bytes i-63..i, so hashing can start at Min-64 with h = 0 and the hash at
// every candidate L >= Min is exactly that of the 64 bytes before the cut.
type cutter struct {
	g             *Gear
	min, avg, max int
	maskS, maskL  uint64 // masks below and above Avg
}

// newCutter prepares the search for p, which must be valid.
func newCutter(p Params, g *Gear) cutter {
	avgBits := bits.TrailingZeros(uint(p.Avg)) // Avg is a power of two
	return cutter{
		g:     g,
		min:   p.Min,
		avg:   p.Avg,
		max:   p.Max,
		maskS: topBits(avgBits + 2),
		maskL: topBits(avgBits - 2),
	}
}

// topBits returns a mask with the n most significant bits set. The high bits
// of the gear hash mix the most input bytes, so cuts are tested there.
func topBits(n int) uint64 { return ^uint64(0) << (64 - n) }

// start returns the search state for a new chunk: the first hashed position
// and the initial hash.
func (c *cutter) start() (int, uint64) { return c.min - windowSize, 0 }

// windowSize is the number of trailing bytes the 64-bit gear hash depends on.
const windowSize = 64

// find looks for the end of the chunk that starts at data[0], resuming at
// position i with hash h (from start, or from an earlier call on a shorter
// prefix of the same chunk). It returns the chunk length if data decides it:
// a content cut, or Max when len(data) >= Max. Otherwise it returns 0 and the
// state to resume from once more data is available; at end of input the
// caller makes the rest of the data the last chunk.
//
// Rules, for candidate lengths L:
//
//	L <  Min           never a cut
//	Min <= L < Avg     cut if h & maskS == 0   (harder: avgBits+2 bits)
//	Avg <= L < Max     cut if h & maskL == 0   (easier: avgBits-2 bits)
//	L == Max           forced cut
func (c *cutter) find(data []byte, i int, h uint64) (n, next int, hash uint64) {
	if len(data) > c.max {
		data = data[:c.max] // bytes past Max are never hashed
	}
	if len(data) < c.min {
		return 0, i, h
	}
	// Warm-up: positions Min-64 .. Min-2 feed the hash but no length below
	// Min is a candidate. The loop runs completely or not at all, because
	// len(data) >= Min here.
	g := c.g
	warm := data[:c.min-1]
	for ; i < len(warm); i++ {
		h = h<<1 + g[warm[i]]
	}
	if i < c.avg-1 {
		end := min(len(data), c.avg-1)
		if n, h = scan(g, data[:end], i, h, c.maskS); n > 0 {
			return n, 0, 0
		}
		i = end
		if end < c.avg-1 {
			return 0, i, h
		}
	}
	end := min(len(data), c.max-1)
	if n, h = scan(g, data[:end], i, h, c.maskL); n > 0 {
		return n, 0, 0
	}
	if len(data) == c.max {
		return c.max, 0, 0
	}
	return 0, end, h
}

// scan hashes data[i:] into h, testing after every byte. It returns the
// length up to and including the first byte after which h&mask == 0, or 0
// and the final hash if there is none.
//
// This is the hot loop. The plain recurrence h = h<<1 + g[b] is a chain of
// two dependent instructions per byte. Here two bytes advance the state at
// once, h2 = h<<2 + (g0<<1 + g1), where g0<<1 + g1 does not depend on h, so
// the chain costs the same per two bytes; the odd position h1 = h<<1 + g0 is
// computed beside it for its test. The result is identical to the byte-wise
// recurrence. The loop is unrolled over a fixed-size array view of the
// input so the compiler drops all bounds checks (the gear table is indexed
// by a byte and needs none); the tests' branches are almost never taken.
func scan(g *Gear, data []byte, i int, h, mask uint64) (int, uint64) {
	for ; i+8 <= len(data); i += 8 {
		b := (*[8]byte)(data[i : i+8])
		g0, g1, g2, g3 := g[b[0]], g[b[1]], g[b[2]], g[b[3]]
		h1 := h<<1 + g0
		h2 := h<<2 + (g0<<1 + g1)
		if h1&mask == 0 {
			return i + 1, h1
		}
		if h2&mask == 0 {
			return i + 2, h2
		}
		h3 := h2<<1 + g2
		h4 := h2<<2 + (g2<<1 + g3)
		if h3&mask == 0 {
			return i + 3, h3
		}
		if h4&mask == 0 {
			return i + 4, h4
		}
		g4, g5, g6, g7 := g[b[4]], g[b[5]], g[b[6]], g[b[7]]
		h5 := h4<<1 + g4
		h6 := h4<<2 + (g4<<1 + g5)
		if h5&mask == 0 {
			return i + 5, h5
		}
		if h6&mask == 0 {
			return i + 6, h6
		}
		h7 := h6<<1 + g6
		h = h6<<2 + (g6<<1 + g7)
		if h7&mask == 0 {
			return i + 7, h7
		}
		if h&mask == 0 {
			return i + 8, h
		}
	}
	for ; i < len(data); i++ {
		if h = h<<1 + g[data[i]]; h&mask == 0 {
			return i + 1, h
		}
	}
	return 0, h
}

// Boundaries returns the end offset of every chunk of data, treated as a
// complete input: the same cuts a [Chunker] produces when reading data. The
// last element is len(data); an empty input has no chunks. It panics if p is
// invalid or g is nil, which is a programming error.
func Boundaries(data []byte, p Params, g *Gear) []int {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if g == nil {
		panic("chunker: nil gear table")
	}
	c := newCutter(p, g)
	var ends []int
	for off := 0; off < len(data); {
		i, h := c.start()
		n, _, _ := c.find(data[off:], i, h)
		if n == 0 {
			n = len(data) - off
		}
		off += n
		ends = append(ends, off)
	}
	return ends
}
