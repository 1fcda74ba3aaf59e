package rpccodec

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/internal/envbuf"
)

func sampleRequest() *holdfastv1.PutChunksRequest {
	chunk := func(fill byte, n int) *holdfastv1.Chunk {
		return &holdfastv1.Chunk{
			Id:       bytes.Repeat([]byte{fill}, 32),
			Envelope: bytes.Repeat([]byte{fill ^ 0x5a}, n),
			Checksum: bytes.Repeat([]byte{^fill}, 32),
		}
	}
	return &holdfastv1.PutChunksRequest{
		Repo:      "photos",
		SessionId: bytes.Repeat([]byte{7}, 16),
		Chunks:    []*holdfastv1.Chunk{chunk(1, 1<<20), chunk(2, 20<<10), chunk(3, 100), chunk(4, 0)},
	}
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPooledDecode: a plain PutChunksRequest decodes to what it encoded,
// its large envelopes in buffers of a pool class (a capacity that is not
// their length: proto.Unmarshal would have allocated exactly), its small
// ones not.
func TestPooledDecode(t *testing.T) {
	want := sampleRequest()
	var got holdfastv1.PutChunksRequest
	if err := (Codec{}).Unmarshal(marshal(t, want), &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(want, &got) {
		t.Fatal("decoded message differs from the encoded one")
	}
	if env := got.Chunks[1].Envelope; cap(env) != 24<<10 {
		t.Errorf("20 KiB envelope: cap %d, want the 24 KiB class", cap(env))
	}
	if env := got.Chunks[2].Envelope; cap(env) >= envbuf.MinClass {
		t.Errorf("100-byte envelope in a %d-byte buffer", cap(env))
	}
	Release(got.Chunks)
	for i, c := range got.Chunks {
		if c.Envelope != nil {
			t.Errorf("chunk %d: envelope still set after Release", i)
		}
	}
}

// TestUnusualEncodingsMatchProto: what the pooled path does not take (an
// unknown field, a repeated field, a field under another wire type) still
// decodes exactly as proto.Unmarshal decodes it, unknown fields included.
func TestUnusualEncodingsMatchProto(t *testing.T) {
	base := marshal(t, sampleRequest())
	cases := map[string][]byte{
		"unknown field":       protowire.AppendVarint(protowire.AppendTag(bytes.Clone(base), 9, protowire.VarintType), 5),
		"repo twice":          protowire.AppendString(protowire.AppendTag(bytes.Clone(base), 1, protowire.BytesType), "other"),
		"chunk field unknown": protowire.AppendBytes(protowire.AppendTag(bytes.Clone(base), 3, protowire.BytesType), protowire.AppendVarint(protowire.AppendTag(nil, 4, protowire.VarintType), 1)),
		"envelope twice": protowire.AppendBytes(protowire.AppendTag(bytes.Clone(base), 3, protowire.BytesType),
			protowire.AppendBytes(protowire.AppendTag(protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), make([]byte, 40<<10)), 2, protowire.BytesType), []byte("second"))),
		"empty": nil,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			var want, got holdfastv1.PutChunksRequest
			if err := proto.Unmarshal(data, &want); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}
			if err := (Codec{}).Unmarshal(data, &got); err != nil {
				t.Fatalf("Codec.Unmarshal: %v", err)
			}
			if !proto.Equal(&want, &got) {
				t.Fatal("Codec decodes differently from proto.Unmarshal")
			}
		})
	}
}

// TestRefusesWhatProtoRefuses: bad input is an error, as with
// proto.Unmarshal, and leaves no half-decoded message behind.
func TestRefusesWhatProtoRefuses(t *testing.T) {
	good := marshal(t, sampleRequest())
	cases := map[string][]byte{
		"truncated":         good[:len(good)-10],
		"repo not utf-8":    protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff, 0xfe}),
		"field number zero": {0x02, 0x00},
		"chunk not message": protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), []byte{0x0a, 0x05}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			var want, got holdfastv1.PutChunksRequest
			if proto.Unmarshal(data, &want) == nil {
				t.Fatal("proto.Unmarshal accepts the case")
			}
			err := (Codec{}).Unmarshal(data, &got)
			if err == nil || !strings.Contains(err.Error(), "PutChunksRequest") {
				t.Fatalf("Codec.Unmarshal: %v, want an error naming the message", err)
			}
		})
	}
}

// TestOtherMessages: every other message goes through proto unchanged,
// and what is not a protobuf message is refused.
func TestOtherMessages(t *testing.T) {
	c := Codec{}
	if c.Name() != "proto" || !c.IsBinary() {
		t.Fatalf("name %q binary %v", c.Name(), c.IsBinary())
	}
	want := &holdfastv1.PutChunksResponse{Stored: 3, Duplicates: 4, BytesStored: 5}
	for _, enc := range []func(any) ([]byte, error){c.Marshal, c.MarshalStable, func(m any) ([]byte, error) { return c.MarshalAppend([]byte("x"), m) }} {
		b, err := enc(want)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.TrimPrefix(b, []byte("x"))
		var got holdfastv1.PutChunksResponse
		if err := c.Unmarshal(b, &got); err != nil || !proto.Equal(want, &got) {
			t.Fatalf("round trip: %v, %v", err, &got)
		}
	}
	if _, err := c.Marshal(42); err == nil {
		t.Fatal("Marshal(42) succeeded")
	}
	if err := c.Unmarshal(nil, new(int)); err == nil {
		t.Fatal("Unmarshal into *int succeeded")
	}
}

// TestPooledReadChunk: a plain ReadChunksResponse decodes to what it
// encoded, its envelope in a buffer of a pool class; with an unknown field
// it decodes as proto.Unmarshal does.
func TestPooledReadChunk(t *testing.T) {
	want := &holdfastv1.ReadChunksResponse{Id: bytes.Repeat([]byte{9}, 32), Envelope: bytes.Repeat([]byte{8}, 1200<<10)}
	data := marshal(t, want)
	// Decoding replaces what the message held, as proto.Unmarshal does.
	got := holdfastv1.ReadChunksResponse{Id: []byte("old"), Envelope: make([]byte, 5, 16<<10)}
	if err := (Codec{}).Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(want, &got) {
		t.Fatal("decoded message differs from the encoded one")
	}
	if c := cap(got.Envelope); c != 1536<<10 {
		t.Errorf("1200 KiB envelope: cap %d, want the 1.5 MiB class", c)
	}
	envbuf.Put(got.Envelope)

	data = protowire.AppendVarint(protowire.AppendTag(data, 7, protowire.VarintType), 1)
	var viaProto, viaCodec holdfastv1.ReadChunksResponse
	if err := proto.Unmarshal(data, &viaProto); err != nil {
		t.Fatal(err)
	}
	if err := (Codec{}).Unmarshal(data, &viaCodec); err != nil || !proto.Equal(&viaProto, &viaCodec) {
		t.Fatalf("with an unknown field: %v, or decoded differently from proto.Unmarshal", err)
	}
}

// TestPooledReadChunkBatch: a batched ReadChunksResponse decodes to what
// it encoded, its large envelopes in pool-class buffers and its small ones
// in allocations of their own size; a batch with a damaged chunk decodes
// as proto.Unmarshal does (here: refused).
func TestPooledReadChunkBatch(t *testing.T) {
	want := &holdfastv1.ReadChunksResponse{Chunks: []*holdfastv1.Chunk{
		{Id: bytes.Repeat([]byte{1}, 32), Envelope: bytes.Repeat([]byte{2}, 8<<10)},
		{Id: bytes.Repeat([]byte{3}, 32), Envelope: bytes.Repeat([]byte{4}, 100<<10)},
		{Id: bytes.Repeat([]byte{5}, 32), Envelope: []byte("tiny")},
	}}
	data := marshal(t, want)
	got := holdfastv1.ReadChunksResponse{Id: []byte("old"), Chunks: []*holdfastv1.Chunk{{Id: []byte("stale")}}}
	if err := (Codec{}).Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(want, &got) {
		t.Fatal("decoded message differs from the encoded one")
	}
	if c := cap(got.Chunks[1].Envelope); c != 128<<10 {
		t.Errorf("100 KiB envelope: cap %d, want the 128 KiB class", c)
	}
	if c := cap(got.Chunks[0].Envelope); c != 8<<10 {
		t.Errorf("8 KiB envelope: cap %d, want its own 8 KiB", c)
	}
	Release(got.Chunks)
	if got.Chunks[1].Envelope != nil {
		t.Error("Release left an envelope in place")
	}

	// The second chunk's envelope declares more bytes than follow.
	bad := bytes.Clone(data[:len(data)-20])
	var viaCodec holdfastv1.ReadChunksResponse
	if proto.Unmarshal(bad, new(holdfastv1.ReadChunksResponse)) == nil || (Codec{}).Unmarshal(bad, &viaCodec) == nil {
		t.Fatal("a truncated batch decoded")
	}
}
