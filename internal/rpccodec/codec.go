package rpccodec

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/internal/envbuf"
)

// Codec is connect's binary protobuf codec ("proto") except that it
// decodes the envelopes of envbuf.MinClass bytes or more of a
// PutChunksRequest (the server's upload) and of a ReadChunksResponse (the
// client's restore) into pooled buffers (package envbuf). The receiver
// hands them back (Release, envbuf.Put) once it is done with them; a
// buffer it keeps is simply left to the garbage collector. Use it with
// connect.WithCodec.
type Codec struct{}

func (Codec) Name() string   { return "proto" }
func (Codec) IsBinary() bool { return true }

func (Codec) Marshal(m any) ([]byte, error) {
	msg, err := protoMessage(m)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(msg)
}

func (Codec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	msg, err := protoMessage(m)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, msg)
}

func (Codec) MarshalStable(m any) ([]byte, error) {
	msg, err := protoMessage(m)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
}

func (Codec) Unmarshal(data []byte, m any) error {
	switch m := m.(type) {
	case *holdfastv1.PutChunksRequest:
		if decodePutChunks(data, m) {
			return nil
		}
	case *holdfastv1.ReadChunksResponse:
		if decodeReadChunk(data, m) {
			return nil
		}
	}
	msg, err := protoMessage(m)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(data, msg); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

func protoMessage(m any) (proto.Message, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return msg, nil
}

// Field numbers of upload.proto and chunk.proto.
const (
	putRepoField       = 1
	putSessionField    = 2
	putChunksField     = 3
	chunkIDField       = 1
	chunkEnvField      = 2
	chunkChecksumField = 3
	readIDField        = 1 // ReadChunksResponse
	readEnvField       = 2
	readChunksField    = 3
)

// decodePutChunks decodes b into req (after emptying it) when b uses only
// the fields of the schema, each with its wire type, and reports whether
// it did. On false req is left empty and every buffer it took is back in
// its pool.
func decodePutChunks(b []byte, req *holdfastv1.PutChunksRequest) (ok bool) {
	// As proto.Unmarshal does; what req held is not ours to give back.
	proto.Reset(req)
	defer func() {
		if !ok {
			Release(req.GetChunks())
			proto.Reset(req)
		}
	}()
	return eachBytesField(b, func(num protowire.Number, v []byte) bool {
		switch num {
		case putRepoField:
			if !utf8.Valid(v) {
				return false
			}
			req.Repo = string(v)
		case putSessionField:
			req.SessionId = bytes.Clone(v)
		case putChunksField:
			c := new(holdfastv1.Chunk)
			req.Chunks = append(req.Chunks, c)
			return decodeChunk(v, c)
		default:
			return false
		}
		return true
	})
}

// decodeReadChunk decodes b into resp (after emptying it) when b uses
// only the fields of the schema, each with its wire type, and reports
// whether it did. On false resp is left empty, its buffer back in its pool.
func decodeReadChunk(b []byte, resp *holdfastv1.ReadChunksResponse) (ok bool) {
	proto.Reset(resp) // as in decodePutChunks
	defer func() {
		if !ok {
			envbuf.Put(resp.Envelope)
			Release(resp.GetChunks())
			proto.Reset(resp)
		}
	}()
	return eachBytesField(b, func(num protowire.Number, v []byte) bool {
		switch num {
		case readIDField:
			resp.Id = bytes.Clone(v)
		case readEnvField:
			envbuf.Put(resp.Envelope)
			resp.Envelope = copyEnvelope(v)
		case readChunksField:
			c := new(holdfastv1.Chunk)
			resp.Chunks = append(resp.Chunks, c)
			return decodeChunk(v, c)
		default:
			return false
		}
		return true
	})
}

// decodeChunk decodes one Chunk message; a field that occurs twice keeps
// its last value, as in proto.Unmarshal.
func decodeChunk(b []byte, c *holdfastv1.Chunk) bool {
	return eachBytesField(b, func(num protowire.Number, v []byte) bool {
		switch num {
		case chunkIDField:
			c.Id = bytes.Clone(v)
		case chunkEnvField:
			envbuf.Put(c.Envelope)
			c.Envelope = copyEnvelope(v)
		case chunkChecksumField:
			c.Checksum = bytes.Clone(v)
		default:
			return false
		}
		return true
	})
}

// eachBytesField calls field with the number and value of every field of
// the message b, in order, while it returns true. It reports false when
// field did, or when b is not a sequence of length-delimited fields.
func eachBytesField(b []byte, field func(num protowire.Number, v []byte) bool) bool {
	for len(b) > 0 {
		num, v, n := consumeBytesField(b)
		if n < 0 || !field(num, v) {
			return false
		}
		b = b[n:]
	}
	return true
}

// consumeBytesField parses one length-delimited field at the start of b:
// its number, its value (aliasing b) and the bytes it took, or n < 0 when b
// does not start with such a field.
func consumeBytesField(b []byte) (num protowire.Number, v []byte, n int) {
	num, typ, tn := protowire.ConsumeTag(b)
	if tn < 0 || typ != protowire.BytesType {
		return 0, nil, -1
	}
	v, vn := protowire.ConsumeBytes(b[tn:])
	if vn < 0 {
		return 0, nil, -1
	}
	return num, v, tn + vn
}

// copyEnvelope copies v into a pooled buffer when one of its size classes
// fits, else into a new allocation.
func copyEnvelope(v []byte) []byte {
	if len(v) < minPooledEnvelope {
		return bytes.Clone(v)
	}
	if buf := envbuf.Get(len(v)); buf != nil {
		return append(buf, v...)
	}
	return bytes.Clone(v)
}

// minPooledEnvelope is the smallest envelope decoded into a pooled buffer:
// smaller ones (a source tree's files) come from the allocator's size
// classes, which fit them more closely. A variable only so that
// FuzzPutChunksCodec can take the pooled path with small inputs.
var minPooledEnvelope = envbuf.MinClass

// Release returns the envelope buffers of chunks to their pools and
// clears the references: the caller must be done with every envelope.
func Release(chunks []*holdfastv1.Chunk) {
	for _, c := range chunks {
		if c != nil {
			envbuf.Put(c.Envelope)
			c.Envelope = nil
		}
	}
}
