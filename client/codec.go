package client

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// chunkCodec is the client's protobuf codec. It is connect's binary proto
// codec except for ReadChunksResponse, the message a restore receives once
// per chunk: its envelope is decoded into a pooled buffer (getBuf) instead
// of a fresh allocation, and the reader returns that buffer once the
// envelope is opened (releaseEnvelope). A restore of a few GiB otherwise
// allocates as many bytes as it receives, which costs the collector, and
// on a virtual machine that hands freed memory back to its host, a page
// fault for nearly every page of it.
//
// The wire format is unchanged: the decoder reads fields 1 and 2 as the
// generated code does, with the last occurrence of a field winning, and
// skips unknown fields.
type chunkCodec struct{}

func (chunkCodec) Name() string { return "proto" }

// IsBinary tells connect the codec is binary (it may then compress).
func (chunkCodec) IsBinary() bool { return true }

func (chunkCodec) Marshal(msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", msg)
	}
	return proto.Marshal(m)
}

// MarshalAppend lets connect marshal into its pooled buffers.
func (chunkCodec) MarshalAppend(dst []byte, msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", msg)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

func (chunkCodec) Unmarshal(data []byte, msg any) error {
	if m, ok := msg.(*holdfastv1.ReadChunksResponse); ok {
		return unmarshalReadChunksResponse(data, m)
	}
	m, ok := msg.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal %T: not a protobuf message", msg)
	}
	return proto.Unmarshal(data, m)
}

var errBadResponse = errors.New("malformed ReadChunksResponse")

// unmarshalReadChunksResponse decodes data into m. m.Envelope is a buffer
// from getBuf (or a fresh one when it is larger than every class) that the
// receiver hands back with releaseEnvelope.
func unmarshalReadChunksResponse(data []byte, m *holdfastv1.ReadChunksResponse) error {
	m.Reset() // connect passes a new message for every Receive
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return fmt.Errorf("%w: %v", errBadResponse, protowire.ParseError(n))
		}
		if !num.IsValid() { // ConsumeTag lets numbers up to MaxInt32 through
			return fmt.Errorf("%w: field number %d", errBadResponse, num)
		}
		data = data[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(data)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", errBadResponse, num, protowire.ParseError(n))
			}
			data = data[n:]
			if num == 1 {
				m.Id = append(m.Id[:0], v...)
			} else {
				releaseEnvelope(m.Envelope)
				m.Envelope = append((*getBuf(uint64(len(v))))[:0], v...)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, data)
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", errBadResponse, num, protowire.ParseError(n))
		}
		data = data[n:]
	}
	return nil
}

// releaseEnvelope returns an envelope buffer the codec filled to its pool.
// The caller must not use env afterwards. Buffers of no class size (nil,
// or one larger than every class) are left to the collector.
func releaseEnvelope(env []byte) {
	if env == nil {
		return
	}
	putBuf(&env)
}
