package rpccodec

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// FuzzPutChunksCodec: the codec decodes every input exactly as
// proto.Unmarshal does: the same messages (unknown fields included), the
// same inputs refused. Every envelope takes the pooled path here, since
// inputs large enough to reach envbuf.MinClass starve the fuzz engine.
func FuzzPutChunksCodec(f *testing.F) {
	old := minPooledEnvelope
	minPooledEnvelope = 0
	f.Cleanup(func() { minPooledEnvelope = old })
	plain, err := proto.Marshal(&holdfastv1.PutChunksRequest{
		Repo: "r", SessionId: []byte{1, 2},
		Chunks: []*holdfastv1.Chunk{
			{Id: bytes.Repeat([]byte{3}, 32), Envelope: bytes.Repeat([]byte{4}, 300), Checksum: bytes.Repeat([]byte{5}, 32)},
			{Id: []byte{6}, Envelope: []byte("small"), Checksum: []byte{7}},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(plain[:len(plain)/2])
	f.Add(protowire.AppendVarint(protowire.AppendTag(bytes.Clone(plain), 15, protowire.VarintType), 1))
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte("env"))))
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xc3, 0x28}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got holdfastv1.PutChunksRequest
		wantErr := proto.Unmarshal(data, &want)
		gotErr := Codec{}.Unmarshal(data, &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("proto.Unmarshal: %v; Codec: %v", wantErr, gotErr)
		}
		if wantErr == nil && !proto.Equal(&want, &got) {
			t.Fatalf("Codec decoded %v, proto.Unmarshal %v", &got, &want)
		}
		Release(got.GetChunks())
	})
}
