package rpccodec

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// Codec is connect's binary protobuf codec with pooled decoding of the
// bulk messages (see the package documentation). Safe for concurrent use.
type Codec struct{}

// Name is connect's name of the binary protobuf codec, which this one
// replaces.
func (Codec) Name() string { return "proto" }

// IsBinary tells connect the codec is binary.
func (Codec) IsBinary() bool { return true }

// Marshal encodes msg as the generated code does.
func (Codec) Marshal(msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", msg)
	}
	return proto.Marshal(m)
}

// MarshalAppend lets connect marshal into its pooled buffers.
func (Codec) MarshalAppend(dst []byte, msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", msg)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

// Unmarshal decodes data into msg. The bulk messages must later be
// released ([ReleasePut], [ReleaseEnvelope]); other messages need nothing.
func (Codec) Unmarshal(data []byte, msg any) error {
	switch m := msg.(type) {
	case *holdfastv1.PutChunksRequest:
		return unmarshalPut(data, m)
	case *holdfastv1.ReadChunksResponse:
		return unmarshalReadResponse(data, m)
	case proto.Message:
		return proto.Unmarshal(data, m)
	}
	return fmt.Errorf("unmarshal %T: not a protobuf message", msg)
}

// ErrMalformed is wrapped by every error of the pooled decoders. It wraps
// format.ErrCorrupt, the class of every decoder's errors.
var ErrMalformed = fmt.Errorf("rpccodec: malformed message: %w", format.ErrCorrupt)

// putArenas maps a decoded PutChunksRequest to the pooled buffer its bytes
// fields point into, until ReleasePut.
var putArenas sync.Map // *holdfastv1.PutChunksRequest → []byte

// ReleasePut returns the buffer that the bytes fields of m (and of its
// chunks) live in to its pool; they must not be used afterwards. Every
// PutChunksRequest the codec decoded must be released once, or its buffer
// stays reachable (see [Outstanding]). Releasing a message the codec did
// not decode, or releasing twice, does nothing.
func ReleasePut(m *holdfastv1.PutChunksRequest) {
	if b, ok := putArenas.LoadAndDelete(m); ok {
		putBuf(b.([]byte))
	}
}

// Outstanding returns how many decoded PutChunksRequests are not released
// yet: tests use it to show that a server releases every message.
func Outstanding() int {
	n := 0
	putArenas.Range(func(any, any) bool { n++; return true })
	return n
}

// ReleaseEnvelope returns the envelope buffer of a ReadChunksResponse the
// codec decoded to its pool; env must not be used afterwards. A buffer the
// codec did not hand out is left to the collector.
func ReleaseEnvelope(env []byte) { putBuf(env) }

// unmarshalPut decodes data into m. Every bytes field is copied into one
// buffer of capacity at least len(data), which the fields together cannot
// exceed, so the buffer never grows and the fields never move.
func unmarshalPut(data []byte, m *holdfastv1.PutChunksRequest) error {
	m.Reset()
	d := arena{buf: getBuf(len(data))}
	err := eachBytesField(data, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			if !utf8.Valid(v) {
				return fmt.Errorf("%w: PutChunksRequest.repo is not valid UTF-8", ErrMalformed)
			}
			m.Repo = string(v)
		case 2:
			m.SessionId = d.copy(v)
		case 3:
			c := new(holdfastv1.Chunk)
			if err := d.chunk(v, c); err != nil {
				return err
			}
			m.Chunks = append(m.Chunks, c)
		}
		return nil
	})
	if err != nil || len(d.buf) == 0 {
		putBuf(d.buf)
		return err
	}
	putArenas.Store(m, d.buf)
	return nil
}

// arena hands out copies in one buffer that never grows.
type arena struct{ buf []byte }

// copy copies v into the arena and returns the copy, capped so that an
// append to it cannot spill into the next field.
func (a *arena) copy(v []byte) []byte {
	start := len(a.buf)
	a.buf = append(a.buf, v...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

func (a *arena) chunk(data []byte, c *holdfastv1.Chunk) error {
	return eachBytesField(data, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			c.Id = a.copy(v)
		case 2:
			c.Envelope = a.copy(v)
		case 3:
			c.Checksum = a.copy(v)
		}
		return nil
	})
}

// unmarshalReadResponse decodes data into m, its envelope into a pooled
// buffer.
func unmarshalReadResponse(data []byte, m *holdfastv1.ReadChunksResponse) error {
	m.Reset()
	err := eachBytesField(data, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			m.Id = append(m.Id[:0:0], v...)
		case 2:
			ReleaseEnvelope(m.Envelope) // an earlier occurrence
			m.Envelope = append(getBuf(len(v)), v...)
		}
		return nil
	})
	if err != nil {
		ReleaseEnvelope(m.Envelope)
		m.Envelope = nil
	}
	return err
}

// eachBytesField calls fn for every length-delimited field of a message,
// in order, and skips fields of other wire types: every field the
// messages decoded here know is length-delimited, so those are unknown.
func eachBytesField(data []byte, fn func(num protowire.Number, v []byte) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		if !num.IsValid() { // ConsumeTag lets numbers up to MaxInt32 through
			return fmt.Errorf("%w: field number %d", ErrMalformed, num)
		}
		data = data[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			data = data[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		data = data[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}
