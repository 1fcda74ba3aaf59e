package client

import (
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// connectRecycleLimit is the largest message connect-go reads into a
// buffer it recycles: its pool keeps buffers of at most 8 MiB, and reading
// a message grows the buffer to 512 bytes more than the message.
const connectRecycleLimit = 8<<20 - 512

// TestPutMessageSize fills messages the way uploadLoop does, from chunks of
// random sizes (small ones, chunker-sized ones, and envelopes just under
// and over the bound), and checks every message's real protobuf encoding,
// with the longest repository name and a session ID, against connect's
// recycling limit; a chunk over the bound must travel alone.
func TestPutMessageSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []func() int{
		func() int { return 1 + rng.IntN(4<<10) },
		func() int { return 256<<10 + rng.IntN(1<<20) },
		func() int { return 1<<20 + rng.IntN(8<<20) },
		func() int { return bkMaxPutMessage - bkChunkOverhead - rng.IntN(64) },
	}
	var msg putMessage
	sent := 0
	send := func() {
		if len(msg.items) == 0 {
			return
		}
		req := &holdfastv1.PutChunksRequest{
			Repo: strings.Repeat("r", 63), SessionId: make([]byte, 16), Chunks: msg.chunks,
		}
		n := proto.Size(req)
		if n > connectRecycleLimit && len(msg.items) > 1 {
			t.Fatalf("message of %d chunks encodes to %d bytes, over %d", len(msg.items), n, connectRecycleLimit)
		}
		if env := len(msg.items[0].env); n > connectRecycleLimit && n > env+bkChunkOverhead+len(req.Repo)+32 {
			t.Fatalf("lone chunk message of %d bytes for an envelope of %d", n, env)
		}
		if msg.size < n-len(req.Repo)-len(req.SessionId)-8 {
			t.Fatalf("size bound %d below the chunks' encoding (%d bytes in all)", msg.size, n)
		}
		sent++
		msg.reset()
	}
	for range 3000 {
		it := &bkChunk{env: make([]byte, sizes[rng.IntN(len(sizes))]())}
		if msg.overflows(it) {
			send()
		}
		msg.add(it)
		if msg.full() {
			send()
		}
	}
	send()
	if sent < 100 {
		t.Fatalf("only %d messages", sent)
	}
}
