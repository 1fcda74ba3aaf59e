package client

import (
	"bytes"
	"runtime"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

func marshalResponse(t testing.TB, id, env []byte) []byte {
	t.Helper()
	b, err := proto.Marshal(&holdfastv1.ReadChunksResponse{Id: id, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSameAsProto decodes data with the codec and with the generated
// code and fails unless both refuse it or both give the same fields.
func checkSameAsProto(t *testing.T, data []byte) {
	t.Helper()
	var want holdfastv1.ReadChunksResponse
	werr := proto.Unmarshal(data, &want)
	var got holdfastv1.ReadChunksResponse
	gerr := chunkCodec{}.Unmarshal(data, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("codec error %v, generated code error %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(got.Id, want.Id) || !bytes.Equal(got.Envelope, want.Envelope) {
		t.Fatalf("codec decoded id %x envelope %x, generated code id %x envelope %x",
			got.Id, got.Envelope, want.Id, want.Envelope)
	}
	releaseEnvelope(got.Envelope)
}

func TestChunkCodecDecodesLikeGeneratedCode(t *testing.T) {
	id := bytes.Repeat([]byte{7}, 32)
	for _, size := range []int{0, 1, 4 << 10, 5000, 1 << 20, 9 << 20} {
		env := bytes.Repeat([]byte{byte(size)}, size)
		checkSameAsProto(t, marshalResponse(t, id, env))
	}
	base := marshalResponse(t, id, []byte("envelope"))
	// Unknown fields of every wire type are skipped.
	unknown := protowire.AppendTag(nil, 9, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 300)
	unknown = protowire.AppendTag(unknown, 10, protowire.Fixed64Type)
	unknown = protowire.AppendFixed64(unknown, 1)
	unknown = protowire.AppendTag(unknown, 11, protowire.BytesType)
	unknown = protowire.AppendBytes(unknown, []byte("skip me"))
	unknown = protowire.AppendTag(unknown, 12, protowire.Fixed32Type)
	unknown = protowire.AppendFixed32(unknown, 2)
	checkSameAsProto(t, append(append([]byte{}, unknown...), base...))
	checkSameAsProto(t, append(append([]byte{}, base...), unknown...))
	// A repeated field: the last occurrence wins.
	checkSameAsProto(t, append(append([]byte{}, base...), marshalResponse(t, []byte("other"), []byte("second"))...))
	// A known field number with another wire type is an unknown field.
	wrongType := protowire.AppendTag(nil, 2, protowire.VarintType)
	checkSameAsProto(t, append(append([]byte{}, base...), protowire.AppendVarint(wrongType, 5)...))
	// Truncations at every byte are refused or read as the generated code
	// reads them.
	for i := range base {
		checkSameAsProto(t, base[:i])
	}
	// A length that points past the end.
	bad := protowire.AppendTag(nil, 2, protowire.BytesType)
	checkSameAsProto(t, protowire.AppendVarint(bad, 1<<20))
	// Field number 0 is invalid.
	checkSameAsProto(t, []byte{0x02, 0x00})
}

// TestChunkCodecPoolsEnvelopes: the envelope of a decoded response lives
// in a buffer of a pool class, and a released buffer is handed out again,
// so a restore does not allocate one buffer per chunk.
func TestChunkCodecPoolsEnvelopes(t *testing.T) {
	data := marshalResponse(t, []byte("id"), bytes.Repeat([]byte{1}, 3000))
	var m holdfastv1.ReadChunksResponse
	if err := (chunkCodec{}).Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if c := cap(m.Envelope); c != int(bufClass(3000)) {
		t.Fatalf("envelope buffer capacity %d, want the class size %d", c, bufClass(3000))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 100
	for range runs {
		var m holdfastv1.ReadChunksResponse
		if err := (chunkCodec{}).Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		releaseEnvelope(m.Envelope)
	}
	runtime.ReadMemStats(&after)
	// Small things (the ID, the message, the pooled pointer) are fine;
	// an envelope-sized buffer per decode is not.
	if perDecode := (after.TotalAlloc - before.TotalAlloc) / runs; perDecode > 1000 {
		t.Fatalf("%d bytes allocated per decode and release of a 3000-byte envelope", perDecode)
	}
}

func TestChunkCodecOtherMessages(t *testing.T) {
	in := &holdfastv1.ReadChunksRequest{Repo: "r", Ids: [][]byte{{1, 2}}}
	b, err := chunkCodec{}.MarshalAppend([]byte("prefix"), in)
	if err != nil {
		t.Fatal(err)
	}
	var out holdfastv1.ReadChunksRequest
	if err := (chunkCodec{}).Unmarshal(b[len("prefix"):], &out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, &out) {
		t.Fatalf("round trip gave %v, want %v", &out, in)
	}
	if _, err := (chunkCodec{}).Marshal(42); err == nil {
		t.Fatal("Marshal of a non-message succeeded")
	}
	if err := (chunkCodec{}).Unmarshal(nil, new(int)); err == nil {
		t.Fatal("Unmarshal into a non-message succeeded")
	}
}

func FuzzChunkCodec(f *testing.F) {
	f.Add(marshalResponse(f, bytes.Repeat([]byte{7}, 32), []byte("envelope")))
	f.Add([]byte{0x0a, 0x01, 0x01, 0x12, 0x00, 0x48, 0x01})
	f.Add([]byte{0x12, 0x80, 0x80, 0x04})
	f.Fuzz(checkSameAsProto)
}
