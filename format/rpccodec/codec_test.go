package rpccodec_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/rpccodec"
)

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samplePut(t testing.TB) []byte {
	return marshal(t, &holdfastv1.PutChunksRequest{
		Repo: "prod", SessionId: bytes.Repeat([]byte{1}, 16),
		Chunks: []*holdfastv1.Chunk{
			{Id: bytes.Repeat([]byte{2}, 32), Envelope: []byte("first envelope"), Checksum: bytes.Repeat([]byte{3}, 32)},
			{Id: bytes.Repeat([]byte{4}, 32), Envelope: bytes.Repeat([]byte{5}, 100<<10), Checksum: bytes.Repeat([]byte{6}, 32)},
			{},
		},
	})
}

// unknownFields holds one unknown field of every wire type.
func unknownFields() []byte {
	b := protowire.AppendTag(nil, 9, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, 10, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 1)
	b = protowire.AppendTag(b, 11, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("skip me"))
	b = protowire.AppendTag(b, 12, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, 2)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Inputs the generated code reads in its less obvious ways; each test
// adds its message's own.
func edgeCases(t *testing.T, base, again []byte) [][]byte {
	cases := [][]byte{
		base, nil,
		cat(unknownFields(), base), cat(base, unknownFields()),
		cat(base, again), // singular fields: the last wins
		cat(base, protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 5)), // wrong wire type
		protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.BytesType), 1<<20),         // length past the end
		{0x02, 0x00},                         // field number 0
		{0xf0, 0xf0, 0xf0, 0x92, 0x30, 0x30}, // field number past the largest
		{0x0b, 0x0c},                         // an empty group
		{0x0c},                               // an end-group tag alone
	}
	for i := range min(len(base), 400) {
		cases = append(cases, base[:i])
	}
	return append(cases, base[:len(base)-1])
}

func TestPutDecodesLikeGeneratedCode(t *testing.T) {
	base := samplePut(t)
	again := marshal(t, &holdfastv1.PutChunksRequest{Repo: "other", SessionId: []byte("s"),
		Chunks: []*holdfastv1.Chunk{{Envelope: []byte("third")}}})
	chunkWithUnknown := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType),
		cat(unknownFields(), []byte{0x12, 0x01, 'e'}))
	badRepo := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff, 0xfe})
	for i, data := range append(edgeCases(t, base, again), cat(base, chunkWithUnknown), badRepo) {
		if err := rpccodec.SameAsGenerated(data, new(holdfastv1.PutChunksRequest)); err != nil {
			t.Fatalf("case %d (%x): %v", i, data[:min(len(data), 40)], err)
		}
	}
	if rpccodec.Outstanding() != 0 {
		t.Fatalf("%d messages not released", rpccodec.Outstanding())
	}
}

func TestReadResponseDecodesLikeGeneratedCode(t *testing.T) {
	id := bytes.Repeat([]byte{7}, 32)
	var cases [][]byte
	for _, size := range []int{0, 1, 4 << 10, 5000, 1 << 20, 9 << 20} {
		cases = append(cases, marshal(t, &holdfastv1.ReadChunksResponse{Id: id, Envelope: bytes.Repeat([]byte{byte(size)}, size)}))
	}
	base := marshal(t, &holdfastv1.ReadChunksResponse{Id: id, Envelope: []byte("envelope")})
	again := marshal(t, &holdfastv1.ReadChunksResponse{Id: []byte("other"), Envelope: []byte("second")})
	for i, data := range append(cases, edgeCases(t, base, again)...) {
		if err := rpccodec.SameAsGenerated(data, new(holdfastv1.ReadChunksResponse)); err != nil {
			t.Fatalf("case %d (%x): %v", i, data[:min(len(data), 40)], err)
		}
	}
}

// TestPutArena: a decoded PutChunksRequest's bytes live in one buffer
// until ReleasePut, and a malformed one keeps nothing.
func TestPutArena(t *testing.T) {
	data := samplePut(t)
	m := new(holdfastv1.PutChunksRequest)
	if err := (rpccodec.Codec{}).Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	if rpccodec.Outstanding() != 1 {
		t.Fatalf("%d outstanding after one decode, want 1", rpccodec.Outstanding())
	}
	// Every field ends at its capacity: an append to one cannot overwrite
	// the next in the shared buffer.
	fields := [][]byte{m.SessionId}
	for _, c := range m.Chunks[:2] {
		fields = append(fields, c.Id, c.Envelope, c.Checksum)
	}
	for i, f := range fields {
		if cap(f) != len(f) {
			t.Fatalf("field %d: capacity %d past its %d bytes", i, cap(f), len(f))
		}
	}
	rpccodec.ReleasePut(m)
	rpccodec.ReleasePut(m) // twice: nothing
	rpccodec.ReleasePut(new(holdfastv1.PutChunksRequest))
	if rpccodec.Outstanding() != 0 {
		t.Fatalf("%d outstanding after release", rpccodec.Outstanding())
	}
	err := (rpccodec.Codec{}).Unmarshal(data[:len(data)-1], new(holdfastv1.PutChunksRequest))
	if !errors.Is(err, rpccodec.ErrMalformed) {
		t.Fatalf("truncated message: %v, want ErrMalformed", err)
	}
	if rpccodec.Outstanding() != 0 {
		t.Fatal("a message that failed to decode kept its buffer")
	}
}

// TestPooled: decoding and releasing does not allocate the bulk bytes
// again each time.
func TestPooled(t *testing.T) {
	put := samplePut(t)
	resp := marshal(t, &holdfastv1.ReadChunksResponse{Id: []byte("id"), Envelope: bytes.Repeat([]byte{1}, 60<<10)})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 50
	for range runs {
		m := new(holdfastv1.PutChunksRequest)
		if err := (rpccodec.Codec{}).Unmarshal(put, m); err != nil {
			t.Fatal(err)
		}
		rpccodec.ReleasePut(m)
		r := new(holdfastv1.ReadChunksResponse)
		if err := (rpccodec.Codec{}).Unmarshal(resp, r); err != nil {
			t.Fatal(err)
		}
		rpccodec.ReleaseEnvelope(r.Envelope)
	}
	runtime.ReadMemStats(&after)
	// Small things (messages, chunk structs, the ID) are fine; the 100 KiB
	// and 60 KiB of bulk bytes per round are not.
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 16<<10 {
		t.Fatalf("%d bytes allocated per round of decode and release", per)
	}
}

func TestOtherMessages(t *testing.T) {
	in := &holdfastv1.ReadChunksRequest{Repo: "r", Ids: [][]byte{{1, 2}}}
	b, err := rpccodec.Codec{}.MarshalAppend([]byte("prefix"), in)
	if err != nil {
		t.Fatal(err)
	}
	var out holdfastv1.ReadChunksRequest
	if err := (rpccodec.Codec{}).Unmarshal(b[len("prefix"):], &out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, &out) {
		t.Fatalf("round trip gave %v, want %v", &out, in)
	}
	if _, err := (rpccodec.Codec{}).Marshal(42); err == nil {
		t.Fatal("Marshal of a non-message succeeded")
	}
	if err := (rpccodec.Codec{}).Unmarshal(nil, new(int)); err == nil {
		t.Fatal("Unmarshal into a non-message succeeded")
	}
}
