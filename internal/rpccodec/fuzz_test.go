package rpccodec

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/internal/envbuf"
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
		got := decodesAsProto[holdfastv1.PutChunksRequest](t, data)
		Release(got.GetChunks())
	})
}

// FuzzReadChunksCodec is FuzzPutChunksCodec for the restore's messages.
func FuzzReadChunksCodec(f *testing.F) {
	old := minPooledEnvelope
	minPooledEnvelope = 0
	f.Cleanup(func() { minPooledEnvelope = old })
	plain, err := proto.Marshal(&holdfastv1.ReadChunksResponse{Id: bytes.Repeat([]byte{1}, 32), Envelope: bytes.Repeat([]byte{2}, 300)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(plain[:40])
	f.Add(protowire.AppendVarint(protowire.AppendTag(bytes.Clone(plain), 3, protowire.VarintType), 1))
	f.Add(protowire.AppendBytes(protowire.AppendTag(bytes.Clone(plain), 2, protowire.BytesType), []byte("again")))
	batch, err := proto.Marshal(&holdfastv1.ReadChunksResponse{Chunks: []*holdfastv1.Chunk{
		{Id: bytes.Repeat([]byte{3}, 32), Envelope: bytes.Repeat([]byte{4}, 200)},
		{Id: []byte{5}, Envelope: []byte("small")},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(batch)
	f.Add(batch[:len(batch)-3])
	f.Add(append(bytes.Clone(plain), batch...))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := decodesAsProto[holdfastv1.ReadChunksResponse](t, data)
		envbuf.Put(got.GetEnvelope())
		Release(got.GetChunks())
	})
}

// decodesAsProto decodes data with the codec and with proto.Unmarshal
// into a message of type T and fails t unless both refuse it or both give
// equal messages. It returns the codec's.
func decodesAsProto[T any, M interface {
	*T
	proto.Message
}](t *testing.T, data []byte) M {
	want, got := M(new(T)), M(new(T))
	wantErr := proto.Unmarshal(data, want)
	gotErr := Codec{}.Unmarshal(data, got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("proto.Unmarshal: %v; Codec: %v", wantErr, gotErr)
	}
	if wantErr == nil && !proto.Equal(want, got) {
		t.Fatalf("Codec decoded %v, proto.Unmarshal %v", got, want)
	}
	return got
}
