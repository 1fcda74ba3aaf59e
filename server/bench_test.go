package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/internal/cputime"
	"github.com/holdfast-backup/holdfast/repo"
)

// BenchmarkUploadNewChunks streams 1 MiB envelopes the repository does not
// hold through one PutChunks stream over a loopback socket, into local
// directory stores (2+1 shards, default pack size), and includes the final
// flush. The client side (building envelopes, BLAKE3 checksums) runs in the
// same process on the same cores. Messages carry 1 chunk, 7 chunks (just
// under connect's 8 MiB buffer-recycling limit) or 9 chunks (over it: each
// message then costs connect a fresh, zeroed, doubling buffer), and
// "mixed" messages of 7 envelopes from 520 KiB to 1.9 MiB, 7.5 MiB in all,
// as compressed chunks come (each size a different buffer class).
func BenchmarkUploadNewChunks(b *testing.B) {
	mixed := []int{520 << 10, 700 << 10, 900 << 10, 1100 << 10, 1400 << 10, 1900 << 10, 1200 << 10}
	for _, grpc := range []bool{false, true} {
		proto := map[bool]string{false: "connect", true: "grpc"}[grpc]
		for _, perMsg := range []int{1, 7, 9} {
			sizes := slices.Repeat([]int{1 << 20}, perMsg)
			b.Run(fmt.Sprintf("%s/%dMiB-messages", proto, perMsg), func(b *testing.B) { benchmarkUpload(b, grpc, sizes) })
		}
		b.Run(proto+"/mixed-messages", func(b *testing.B) { benchmarkUpload(b, grpc, mixed) })
	}
}

// benchmarkUpload sends messages of envelopes of the given sizes.
func benchmarkUpload(b *testing.B, grpc bool, sizes []int) {
	perMsg := len(sizes)
	ctx := context.Background()
	f := newUpFixture(b, upOptions{local: true, packTarget: repo.DefaultPackTarget})
	c := f.client(f.backup, grpc)
	begin, err := c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: f.repo}))
	if err != nil {
		b.Fatal(err)
	}
	envs := make([][]byte, perMsg)
	total := 0
	for i, n := range sizes {
		envs[i] = fakeEnvelope(n)
		total += n
	}
	salt := randomID()
	st := c.upload.PutChunks(ctx)
	msg := &holdfastv1.PutChunksRequest{Repo: f.repo, SessionId: begin.Msg.SessionId}
	b.SetBytes(int64(total))
	b.ResetTimer()
	cpu := cputime.Process()
	for i := range b.N { // not b.Loop: the flush after the loop is timed too
		msg.Chunks = msg.Chunks[:0]
		for j, env := range envs {
			binary.BigEndian.PutUint64(env[100:], uint64(i*perMsg+j)) // new content each time
			id := blake3.Sum256(append(salt[:], env[100:108]...))
			sum := blake3.Sum256(env)
			msg.Chunks = append(msg.Chunks, &holdfastv1.Chunk{Id: id[:], Envelope: env, Checksum: sum[:]})
		}
		if err := st.Send(msg); err != nil {
			break
		}
		msg = &holdfastv1.PutChunksRequest{Chunks: msg.Chunks[:0]}
	}
	resp, err := st.CloseAndReceive()
	if err != nil {
		b.Fatal(err)
	}
	if err := f.eng.Flush(ctx, f.id); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	if resp.Msg.Stored == 0 || resp.Msg.Duplicates != 0 {
		b.Fatalf("stored %d, duplicates %d", resp.Msg.Stored, resp.Msg.Duplicates)
	}
}

// BenchmarkFilterMissing10k measures one FilterMissing call of 10,000 IDs
// (Connect over loopback) against a repository of 100,000 chunks: all
// absent, half present (pinned), all present (all pinned).
func BenchmarkFilterMissing10k(b *testing.B) {
	const held, ask = 100000, MaxFilterIDs
	ctx := context.Background()
	f := newUpFixture(b, upOptions{local: true, packTarget: repo.DefaultPackTarget})
	env := fakeEnvelope(200)
	stored := make([]format.ID, held)
	for i := range stored {
		stored[i] = randomID()
		if _, err := f.eng.PutChunk(ctx, f.id, stored[i], env); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.eng.Flush(ctx, f.id); err != nil {
		b.Fatal(err)
	}
	if err := f.eng.Index().Flush(); err != nil { // measure tables, not the memtable
		b.Fatal(err)
	}
	c := f.client(f.backup, false)
	for _, tc := range []struct {
		name    string
		present int
	}{{"new", 0}, {"half", ask / 2}, {"present", ask}} {
		b.Run(tc.name, func(b *testing.B) {
			begin, err := c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: f.repo}))
			if err != nil {
				b.Fatal(err)
			}
			ids := make([][]byte, ask)
			for i := range ids {
				id := randomID()
				if i < tc.present {
					id = stored[(i*7919)%held]
				}
				ids[i] = id[:]
			}
			req := &holdfastv1.FilterMissingRequest{Repo: f.repo, SessionId: begin.Msg.SessionId, Ids: ids}
			b.ResetTimer()
			for b.Loop() {
				resp, err := c.upload.FilterMissing(ctx, connect.NewRequest(req))
				if err != nil {
					b.Fatal(err)
				}
				if len(resp.Msg.Missing) != ask-tc.present {
					b.Fatalf("%d missing, want %d", len(resp.Msg.Missing), ask-tc.present)
				}
			}
		})
	}
}

// BenchmarkReadChunks streams a restore's worth of chunks back through one
// ReadChunks call over a loopback socket, from local directory stores (2+1
// shards, default pack size): 2,048 small envelopes of 8 KiB (a source
// tree's files) and 48 of 1 MiB (large files), in the order they were
// stored. The client side only receives. Compare with
// BenchmarkBlake3Sum256 in format/seal: unless the client verifies, the
// server hashes every byte it sends once, to verify it.
func BenchmarkReadChunks(b *testing.B) {
	ctx := context.Background()
	f := newUpFixture(b, upOptions{local: true, packTarget: repo.DefaultPackTarget})
	var ids [][]byte
	var total int64
	put := func(n, size int) {
		for range n {
			id, env := randomID(), fakeEnvelope(size)
			if _, err := f.eng.PutChunk(ctx, f.id, id, env); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id[:])
			total += int64(size)
		}
	}
	put(1024, 8<<10)
	put(48, 1<<20)
	put(1024, 8<<10)
	if err := f.eng.Flush(ctx, f.id); err != nil {
		b.Fatal(err)
	}
	if err := f.eng.Index().Flush(); err != nil { // read tables, not the memtable
		b.Fatal(err)
	}
	// The HTTP/2 settings of the real client (client/conn.go): 1 MiB frames
	// and wide windows.
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p, HTTP2: &http.HTTP2Config{
		MaxReceiveBufferPerConnection: H2ConnWindow,
		MaxReceiveBufferPerStream:     H2StreamWindow,
		MaxReadFrameSize:              H2MaxFrame,
	}}}
	chunks := holdfastv1connect.NewChunkServiceClient(hc, f.url, connect.WithInterceptors(upBearer(f.restore)))
	// "server-verifies" is a plain request; "client-verifies" sets
	// client_verifies, and "client-verifies-batched" batch as well, as the
	// holdfast client does: the server skips its check of each record and
	// puts several chunks in a message.
	for _, v := range []struct {
		name         string
		trust, batch bool
	}{{"server-verifies", false, false}, {"client-verifies", true, false}, {"client-verifies-batched", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			req := &holdfastv1.ReadChunksRequest{Repo: f.repo, Ids: ids, ClientVerifies: v.trust, Batch: v.batch}
			b.SetBytes(total)
			cpu := cputime.Process()
			for b.Loop() {
				st, err := chunks.ReadChunks(ctx, connect.NewRequest(req))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for st.Receive() {
					n += max(1, len(st.Msg().GetChunks()))
				}
				if err := st.Err(); err != nil || n != len(ids) {
					b.Fatalf("received %d of %d chunks: %v", n, len(ids), err)
				}
				st.Close()
			}
			b.ReportMetric(float64(cputime.Process()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
