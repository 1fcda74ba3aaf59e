package rpccodec

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// SameAsGenerated decodes data into msg (a new, empty message) with the
// Codec and into a second message of its type with the generated code,
// releases what the Codec pooled, and returns an error unless both refused
// data or both produced equal messages, unknown fields aside. The tests
// and fuzz targets hold the pooled decoders to it.
func SameAsGenerated(data []byte, msg proto.Message) error {
	want := msg.ProtoReflect().New().Interface()
	werr := proto.Unmarshal(data, want)
	gerr := Codec{}.Unmarshal(data, msg)
	defer release(msg)
	if (werr == nil) != (gerr == nil) {
		return fmt.Errorf("codec error %v, generated code error %v", gerr, werr)
	}
	if werr != nil {
		return nil
	}
	dropUnknown(want)
	if !proto.Equal(msg, want) {
		return fmt.Errorf("codec decoded %v, generated code %v", msg, want)
	}
	return nil
}

func release(msg proto.Message) {
	switch m := msg.(type) {
	case *holdfastv1.PutChunksRequest:
		ReleasePut(m)
	case *holdfastv1.ReadChunksResponse:
		ReleaseEnvelope(m.Envelope)
	}
}

// dropUnknown clears the unknown fields the generated code keeps and the
// Codec skips.
func dropUnknown(m proto.Message) {
	m.ProtoReflect().SetUnknown(nil)
	if p, ok := m.(*holdfastv1.PutChunksRequest); ok {
		for _, c := range p.Chunks {
			c.ProtoReflect().SetUnknown(nil)
		}
	}
}
