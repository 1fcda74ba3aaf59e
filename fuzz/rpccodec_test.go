package fuzz

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/rpccodec"
)

func marshalSeed(f *testing.F, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzRPCCodecPut: the pooled PutChunksRequest decoder accepts exactly
// what the generated code accepts and decodes it to the same message.
func FuzzRPCCodecPut(f *testing.F) {
	f.Add(marshalSeed(f, &holdfastv1.PutChunksRequest{
		Repo: "prod", SessionId: bytes.Repeat([]byte{1}, 16),
		Chunks: []*holdfastv1.Chunk{
			{Id: bytes.Repeat([]byte{2}, 32), Envelope: []byte("envelope"), Checksum: bytes.Repeat([]byte{3}, 32)},
			{},
		},
	}))
	f.Add([]byte{0x1a, 0x03, 0x12, 0x01, 'e'})
	f.Add([]byte{0x0a, 0x02, 0xff, 0xfe})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := rpccodec.SameAsGenerated(data, new(holdfastv1.PutChunksRequest)); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzRPCCodecReadResponse: the same for ReadChunksResponse.
func FuzzRPCCodecReadResponse(f *testing.F) {
	f.Add(marshalSeed(f, &holdfastv1.ReadChunksResponse{Id: bytes.Repeat([]byte{7}, 32), Envelope: []byte("envelope")}))
	f.Add([]byte{0x0a, 0x01, 0x01, 0x12, 0x00, 0x48, 0x01})
	f.Add([]byte{0xf0, 0xf0, 0xf0, 0x92, 0x30, 0x30})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := rpccodec.SameAsGenerated(data, new(holdfastv1.ReadChunksResponse)); err != nil {
			t.Fatal(err)
		}
	})
}
