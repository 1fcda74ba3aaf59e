package chunker

import (
	"errors"
	"fmt"
	"io"
)

// minBlock is the smallest read-ahead beyond Max, so that reads stay large
// even with small parameters.
const minBlock = 256 << 10

// Chunker splits a stream into content-defined chunks. It reads ahead into
// one buffer of Max + block bytes that it keeps across [Chunker.Reset], so a
// client chunking many files allocates nothing per file or per chunk.
//
// A Chunker is not safe for concurrent use.
type Chunker struct {
	cut cutter
	r   io.Reader
	buf []byte

	start, end int // unconsumed input is buf[start:end]
	pos        int // search state for the chunk at start ...
	h          uint64
	eof        bool  // r returned io.EOF
	err        error // sticky read error
}

// New returns a Chunker reading r with parameters p and gear table g.
func New(r io.Reader, p Params, g *Gear) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errors.New("chunker: nil gear table")
	}
	// The read-ahead beyond Max is at least a few average chunks, so that
	// moving the unconsumed tail to the front of the buffer (at most once
	// per block) costs little next to hashing.
	block := max(p.Max, 4*p.Avg, minBlock)
	c := &Chunker{cut: newCutter(p, g), buf: make([]byte, p.Max+block)}
	c.Reset(r)
	return c, nil
}

// Reset makes c read a new input from r, keeping its buffer. Chunks returned
// before are invalid afterwards.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.start, c.end = 0, 0
	c.pos, c.h = c.cut.start()
	c.eof, c.err = false, nil
}

// Next returns the next chunk. The slice aliases c's buffer and is valid
// only until the next call to Next or Reset. After the last chunk Next
// returns io.EOF; an empty input yields io.EOF at once. A read error is
// returned (wrapped) once no further chunk can be decided from the data
// read before it, and again on every later call.
func (c *Chunker) Next() ([]byte, error) {
	for {
		if data := c.buf[c.start:c.end]; len(data) > 0 {
			n, pos, h := c.cut.find(data, c.pos, c.h)
			if n == 0 && c.eof {
				n = len(data) // the rest is the last chunk; find saw < Max bytes
			}
			if n > 0 {
				c.start += n
				c.pos, c.h = c.cut.start()
				return data[:n:n], nil
			}
			c.pos, c.h = pos, h // resume here after reading more
		} else if c.eof {
			return nil, io.EOF
		}
		if c.err != nil {
			return nil, c.err
		}
		c.fill()
	}
}

// maxEmptyReads bounds successive (0, nil) reads before giving up, as bufio does.
const maxEmptyReads = 100

// fill reads at least one byte, or records end of input or an error. It is
// called only when the unconsumed input is shorter than Max and decides no
// cut, so there is always room to read into after the optional compaction.
func (c *Chunker) fill() {
	if c.start+c.cut.max > len(c.buf) {
		// Not enough room for a full chunk after start: move the
		// unconsumed tail (< Max, usually less than a chunk) to the front.
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	for range maxEmptyReads {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = fmt.Errorf("chunker: read: invalid count %d", n)
			return
		}
		c.end += n
		switch {
		case err == io.EOF:
			c.eof = true
			return
		case err != nil:
			c.err = fmt.Errorf("chunker: read: %w", err)
			return
		case n > 0:
			return
		}
	}
	c.err = fmt.Errorf("chunker: read: %w", io.ErrNoProgress)
}
