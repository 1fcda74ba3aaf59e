package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// killChunk is a sealed chunk the kill test uploads.
type killChunk struct {
	id  format.ID
	env []byte
}

// killPool is a fixed pool of chunks; uploaders draw overlapping sets from
// it, so interrupted sessions leave chunks that later commits reuse.
func killPool(t *testing.T, n int) []killChunk {
	m, err := keys.NewMaster(nil, chunker.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(m.Derive())
	pool := make([]killChunk, n)
	for i := range pool {
		xof := blake3.New()
		binary.Write(xof, binary.BigEndian, uint64(i))
		plain := make([]byte, 20<<10+i%7*4096)
		xof.Digest().Read(plain)
		id := s.ID(plain)
		env, err := s.Seal(nil, seal.TypeData, id, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = killChunk{id, env}
	}
	return pool
}

type killClient struct {
	repo   string
	auth   string
	upload holdfastv1connect.UploadServiceClient
	snaps  holdfastv1connect.SnapshotServiceClient
	chunks holdfastv1connect.ChunkServiceClient
}

func newKillClient(url, token, repo string) *killClient {
	c := &killClient{repo: repo, auth: "Bearer " + token}
	opt := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", c.auth)
			return next(ctx, req)
		}
	}), headerInterceptor(c.auth))
	c.upload = holdfastv1connect.NewUploadServiceClient(http.DefaultClient, url, opt)
	c.snaps = holdfastv1connect.NewSnapshotServiceClient(http.DefaultClient, url, opt)
	c.chunks = holdfastv1connect.NewChunkServiceClient(http.DefaultClient, url, opt)
	return c
}

// backup uploads set as one snapshot and returns its ID once committed.
func (c *killClient) backup(ctx context.Context, set []killChunk, host string) (format.ID, error) {
	begin, err := c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: c.repo}))
	if err != nil {
		return format.ID{}, err
	}
	sid := begin.Msg.SessionId
	ids := make([][]byte, len(set))
	byID := map[format.ID]killChunk{}
	for i, ch := range set {
		ids[i] = ch.id[:]
		byID[ch.id] = ch
	}
	fm, err := c.upload.FilterMissing(ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{Repo: c.repo, SessionId: sid, Ids: ids}))
	if err != nil {
		return format.ID{}, err
	}
	if len(fm.Msg.Missing) > 0 {
		if err := c.put(ctx, sid, fm.Msg.Missing, byID); err != nil {
			return format.ID{}, err
		}
	}
	return c.commit(ctx, sid, byID, host)
}

func (c *killClient) put(ctx context.Context, sid []byte, missing [][]byte, byID map[format.ID]killChunk) error {
	stream := c.upload.PutChunks(ctx)
	for _, m := range missing {
		ch := byID[format.ID(m)]
		sum := blake3.Sum256(ch.env)
		err := stream.Send(&holdfastv1.PutChunksRequest{Repo: c.repo, SessionId: sid,
			Chunks: []*holdfastv1.Chunk{{Id: ch.id[:], Envelope: ch.env, Checksum: sum[:]}}})
		if err != nil {
			break // the response tells why
		}
	}
	_, err := stream.CloseAndReceive()
	return err
}

func (c *killClient) commit(ctx context.Context, sid []byte, byID map[format.ID]killChunk, host string) (format.ID, error) {
	refs := make([]format.ID, 0, len(byID))
	for id := range byID {
		refs = append(refs, id)
	}
	slices.SortFunc(refs, format.ID.Compare)
	sum, _ := snapshot.RefsHash(refs)
	h := &snapshot.Header{Time: time.Now().UnixNano(), Host: host, Source: snapshot.Source{Kind: "path", Name: "/v"},
		Root: []tree.Extent{{ID: refs[0], Length: 1}}, RefCount: uint64(len(refs)), RefsHash: sum}
	commit := c.upload.Commit(ctx)
	if err := commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{Repo: c.repo, SessionId: sid, Header: h.Encode()}}}); err == nil {
		batch := make([][]byte, len(refs))
		for i := range refs {
			batch[i] = refs[i][:]
		}
		_ = commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: batch}}})
	}
	resp, err := commit.CloseAndReceive()
	if err != nil {
		return format.ID{}, err
	}
	return format.ID(resp.Msg.SnapshotId), nil
}

// verify checks a committed snapshot and every chunk of it, bit-exact.
func (c *killClient) verify(ctx context.Context, id format.ID, set []killChunk) error {
	if _, err := c.snaps.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: c.repo, Id: id[:]})); err != nil {
		return fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	ids := make([][]byte, len(set))
	for i := range set {
		ids[i] = set[i].id[:]
	}
	stream, err := c.chunks.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{Repo: c.repo, Ids: ids}))
	if err != nil {
		return err
	}
	i := 0
	for stream.Receive() {
		if string(stream.Msg().Envelope) != string(set[i].env) {
			return fmt.Errorf("snapshot %s: chunk %d differs", id.Short(), i)
		}
		i++
	}
	if err := stream.Err(); err != nil || i != len(set) {
		return fmt.Errorf("snapshot %s: read %d of %d chunks: %v", id.Short(), i, len(set), err)
	}
	return nil
}

// TestKill9DuringConcurrentUploads SIGKILLs the real server at random points
// while four clients upload overlapping snapshots, restarts it, and checks
// that every snapshot reported committed is intact and that new commits
// (reusing chunks of interrupted sessions) keep working.
func TestKill9DuringConcurrentUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary")
	}
	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	pool := killPool(t, 120)
	committed := map[format.ID][]killChunk{}
	lastRound := map[format.ID][]killChunk{}
	var mu sync.Mutex
	const rounds = 20
	for round := 0; round < rounds; round++ {
		cmd, url := startServer(t, bin, data)
		token := readToken(t, data)
		if round == 0 {
			createRepo(t, url, token, "db")
		}
		c := newKillClient(url, token, "db")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		// The snapshots acknowledged just before the last kill are the ones
		// at risk; older ones are checked once at the end.
		for id, set := range lastRound {
			if err := c.verify(ctx, id, set); err != nil {
				t.Fatalf("round %d: acknowledged snapshot damaged after kill -9: %v", round, err)
			}
		}
		lastRound = map[format.ID][]killChunk{}
		var lastErr error
		var wg sync.WaitGroup
		for u := 0; u < 4; u++ {
			wg.Add(1)
			go func(u int) {
				defer wg.Done()
				for j := 0; ctx.Err() == nil; j++ {
					start := (round*13 + u*29 + j*7) % len(pool)
					set := make([]killChunk, 0, 30)
					for k := 0; k < 30; k++ {
						set = append(set, pool[(start+k)%len(pool)])
					}
					id, err := c.backup(ctx, set, fmt.Sprintf("u%d", u))
					if err != nil {
						mu.Lock()
						lastErr = err
						mu.Unlock()
						return // the server died under us, or lastErr says why not
					}
					mu.Lock()
					committed[id], lastRound[id] = set, set
					mu.Unlock()
				}
			}(u)
		}
		killAfter(t, round, &mu, func() (int, error) { return len(lastRound), lastErr })
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		wg.Wait()
		cancel()
	}
	// A last clean start: everything acknowledged is there, and a fresh
	// backup of chunks that interrupted sessions had uploaded commits.
	_, url := startServer(t, bin, data)
	c := newKillClient(url, readToken(t, data), "db")
	ctx := context.Background()
	for id := range committed {
		if _, err := c.snaps.GetSnapshot(ctx, connect.NewRequest(&holdfastv1.GetSnapshotRequest{Repo: "db", Id: id[:]})); err != nil {
			t.Fatalf("final check: snapshot %s: %v", id.Short(), err)
		}
	}
	if err := c.verify(ctx, mustBackup(t, c, pool), pool); err != nil {
		t.Fatalf("final check of every chunk: %v", err)
	}
	t.Logf("%d rounds, %d acknowledged snapshots verified", rounds, len(committed))
}

// killAfter waits for the round's kill point. A kill at a fixed time after
// start tests nothing on a slow machine, where no commit may finish by then,
// so two rounds in three first wait for one or two acknowledged commits; the
// rest kill while the first sessions are still in flight. A varying delay
// then moves the kill across upload, commit and index writes.
func killAfter(t *testing.T, round int, mu *sync.Mutex, acked func() (int, error)) {
	t.Helper()
	want := round % 3
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		mu.Lock()
		n, err := acked()
		mu.Unlock()
		if n >= want {
			if d := time.Since(start); d > time.Second {
				t.Logf("round %d: %d commits took %v (slow disk or a busy machine)", round, want, d.Round(time.Millisecond))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: %d of %d commits acknowledged after 30 s (last upload error: %v)", round, n, want, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(time.Duration(10+(round*137)%300) * time.Millisecond)
}

// mustBackup commits a snapshot of set; after the kills it proves that
// chunks left by interrupted sessions do not break later commits.
func mustBackup(t *testing.T, c *killClient, set []killChunk) format.ID {
	id, err := c.backup(context.Background(), set, "final")
	if err != nil {
		t.Fatalf("commit after the kills: %v", err)
	}
	return id
}

func readToken(t *testing.T, data string) string {
	b, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func createRepo(t *testing.T, url, token, name string) {
	c := holdfastv1connect.NewRepoServiceClient(http.DefaultClient, url)
	req := connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: name})
	req.Header().Set("Authorization", "Bearer "+token)
	if _, err := c.CreateRepo(context.Background(), req); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// headerInterceptor sets the bearer token on streaming calls too.
func headerInterceptor(auth string) connect.Interceptor { return streamAuth(auth) }

type streamAuth string

func (a streamAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (a streamAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", string(a))
		return conn
	}
}

func (a streamAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
