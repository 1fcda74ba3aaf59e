package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/chunker"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
	"github.com/holdfast-backup/holdfast/gc"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/server"
)

// stressDuration is how long TestStress runs its workers:
// HOLDFAST_GC_STRESS (a Go duration, e.g. 60s; `make gc-stress`) or 12 s.
func stressDuration(t *testing.T) time.Duration {
	if v := os.Getenv("HOLDFAST_GC_STRESS"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HOLDFAST_GC_STRESS=%q: %v", v, err)
		}
		return d
	}
	if testing.Short() {
		return 3 * time.Second
	}
	return 12 * time.Second
}

// stressServer is a real holdfastd on a loopback listener over three local
// stores, like the client package's fixture.
type stressServer struct {
	url   string
	eng   *repo.Repo
	admin string
}

func newStressServer(t *testing.T) *stressServer {
	ctx := context.Background()
	data := t.TempDir()
	var stores []string
	for _, s := range []string{"s0", "s1", "s2"} {
		stores = append(stores, filepath.Join(data, s))
	}
	layout, err := repo.LoadOrCreateLayout(data, repo.NewLayout(stores, 2, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := repo.Open(ctx, repo.Config{DataDir: data, Layout: layout, PackTarget: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	admin, _, err := server.EnsureAdminToken(data, eng)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(server.New(eng, server.Options{}).Handler(), slog.New(slog.DiscardHandler))
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(sctx, hs, ln, "", "") }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return &stressServer{url: "http://" + ln.Addr().String(), eng: eng, admin: admin}
}

func (s *stressServer) initRepo(t *testing.T, name string) *client.Repository {
	ctx := context.Background()
	adm := client.Dial(client.Config{Server: s.url, Token: s.admin})
	if _, err := adm.Repos.CreateRepo(ctx, connect.NewRequest(&holdfastv1.CreateRepoRequest{Name: name})); err != nil {
		t.Fatal(err)
	}
	tok, err := adm.Tokens.CreateToken(ctx, connect.NewRequest(&holdfastv1.CreateTokenRequest{Repo: name, Role: holdfastv1.Role_ROLE_ADMIN}))
	if err != nil {
		t.Fatal(err)
	}
	c := client.Dial(client.Config{Server: s.url, Token: tok.Msg.Token, Repo: name})
	r, err := client.Init(ctx, c, []byte("pw"), client.InitOptions{
		Chunker: chunker.Params{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10}, KDF: keys.TestKDF,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// committed is a snapshot the test knows the content of.
type committed struct {
	snap  client.Snapshot
	files map[string][32]byte // relative path -> SHA-256
	host  string
}

// stress is the shared state of the workers.
type stress struct {
	t      *testing.T
	srv    *stressServer
	r      *client.Repository
	repoID uint32
	pool   [][]byte // shared blocks: files are made of these, so chunks are shared

	mu        sync.Mutex
	live      map[format.ID]*committed
	latest    map[string]format.ID // per host: the next backup's parent, never forgotten
	restoring map[format.ID]int
	forgotten int
	errs      []error

	backups, restores, gcs atomic.Int64
	freed                  atomic.Int64
}

func (s *stress) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

// TestStress runs backups (through the real server and client), forgets,
// restores and GCs concurrently with random timing, then restores every
// snapshot that was not forgotten bit-exact, and checks that a final GC
// leaves exactly the referenced chunks and no pack without a live chunk.
// GC runs with its clock 2 h ahead, so the grace period protects nothing
// and only the guard protocol keeps uploads safe.
func TestStress(t *testing.T) {
	d := stressDuration(t)
	srv := newStressServer(t)
	r := srv.initRepo(t, "stress")
	repoID, err := srv.eng.RepositoryID("stress")
	if err != nil {
		t.Fatal(err)
	}
	s := &stress{t: t, srv: srv, r: r, repoID: repoID,
		live: map[format.ID]*committed{}, latest: map[string]format.ID{}, restoring: map[format.ID]int{}}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 24 {
		b := make([]byte, 24<<10+rng.IntN(40<<10))
		fillRandom(rng, b)
		s.pool = append(s.pool, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() { s.backupLoop(ctx, w) })
	}
	wg.Go(func() { s.forgetLoop(ctx) })
	wg.Go(func() { s.gcLoop(ctx) })
	wg.Go(func() { s.restoreLoop(ctx) })
	wg.Wait()
	for _, err := range s.errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%s: %d backups, %d forgotten, %d restores, %d GCs freeing %d bytes",
		d, s.backups.Load(), s.forgotten, s.restores.Load(), s.gcs.Load(), s.freed.Load())
	if s.backups.Load() < 4 || s.gcs.Load() < 2 || s.forgotten < 1 {
		t.Fatalf("too little happened to prove anything")
	}
	s.finalCheck()
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// backupLoop backs up one directory again and again, changing some files
// between backups: new files mix shared pool blocks (chunks other
// snapshots have, some of them forgotten and dying) with fresh bytes.
func (s *stress) backupLoop(ctx context.Context, w int) {
	rng := rand.New(rand.NewPCG(uint64(w), 99))
	dir := s.t.TempDir()
	host := fmt.Sprintf("host-%d", w)
	files := map[string][32]byte{}
	for ctx.Err() == nil {
		for range 1 + rng.IntN(4) {
			name := fmt.Sprintf("f%02d", rng.IntN(12))
			var buf bytes.Buffer
			for range 1 + rng.IntN(4) {
				buf.Write(s.pool[rng.IntN(len(s.pool))])
			}
			fresh := make([]byte, rng.IntN(20<<10))
			fillRandom(rng, fresh)
			buf.Write(fresh)
			if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o600); err != nil {
				s.fail(err)
				return
			}
			files[name] = sha256.Sum256(buf.Bytes())
		}
		sum, err := s.r.Backup(ctx, client.BackupOptions{Paths: []string{dir}, Host: host, NoCache: true})
		if cutOff(ctx, err) {
			return
		}
		if err != nil {
			s.fail(fmt.Errorf("backup %s: %w", host, err))
			return
		}
		snap, err := s.r.Resolve(ctx, sum.SnapshotID.String())
		if err != nil {
			if ctx.Err() == nil {
				s.fail(fmt.Errorf("resolve new snapshot: %w", err))
			}
			return
		}
		want := map[string][32]byte{}
		for k, v := range files {
			want[k] = v
		}
		s.mu.Lock()
		s.live[snap.ID] = &committed{snap: snap, files: want, host: host}
		s.latest[host] = snap.ID
		s.mu.Unlock()
		s.backups.Add(1)
	}
}

// forgetLoop forgets a random snapshot that is neither a host's latest
// (the next backup's parent) nor being restored.
func (s *stress) forgetLoop(ctx context.Context) {
	rng := rand.New(rand.NewPCG(3, 4))
	for sleep(ctx, time.Duration(50+rng.IntN(250))*time.Millisecond) {
		s.mu.Lock()
		var pick []format.ID
		for id, c := range s.live {
			if s.latest[c.host] != id && s.restoring[id] == 0 {
				pick = append(pick, id)
			}
		}
		if len(pick) == 0 {
			s.mu.Unlock()
			continue
		}
		id := pick[rng.IntN(len(pick))]
		delete(s.live, id)
		s.forgotten++
		s.mu.Unlock()
		if err := s.srv.eng.DeleteSnapshot(ctx, s.repoID, id); err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("forget: %w", err))
			return
		}
	}
}

func (s *stress) gcLoop(ctx context.Context) {
	rng := rand.New(rand.NewPCG(5, 6))
	for sleep(ctx, time.Duration(rng.IntN(300))*time.Millisecond) {
		rep, err := gc.Run(ctx, s.srv.eng, s.repoID, gc.Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail(fmt.Errorf("gc: %w", err))
			return
		}
		s.gcs.Add(1)
		s.freed.Add(rep.BytesFreed)
	}
}

// restoreLoop restores random live snapshots while GC repacks under it.
func (s *stress) restoreLoop(ctx context.Context) {
	rng := rand.New(rand.NewPCG(7, 8))
	for sleep(ctx, time.Duration(rng.IntN(200))*time.Millisecond) {
		s.mu.Lock()
		var c *committed
		for _, x := range s.live {
			c = x
			if rng.IntN(3) == 0 {
				break
			}
		}
		if c != nil {
			s.restoring[c.snap.ID]++
		}
		s.mu.Unlock()
		if c == nil {
			continue
		}
		err := s.restore(ctx, c)
		s.mu.Lock()
		s.restoring[c.snap.ID]--
		s.mu.Unlock()
		if cutOff(ctx, err) {
			return
		}
		if err != nil {
			s.fail(err)
			return
		}
		s.restores.Add(1)
	}
}

// cutOff reports whether the test's deadline ended the operation that
// returned err. A deadline_exceeded can come back while ctx.Err() is
// still nil: the server learns the deadline in whole milliseconds,
// rounded down, so its handler may give up first, and connect compares
// the clock with the deadline before the context's timer has fired.
// Such an error, close to the deadline, is waited out, not failed.
func cutOff(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	if err == nil || !ok || !strings.Contains(err.Error(), "deadline_exceeded") || time.Until(deadline) > 50*time.Millisecond {
		return false
	}
	<-ctx.Done()
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// restore restores c into a fresh directory and compares every file.
func (s *stress) restore(ctx context.Context, c *committed) error {
	dir, err := os.MkdirTemp(s.t.TempDir(), "restore")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := s.r.Restore(ctx, c.snap, client.RestoreOptions{Target: dir}); err != nil {
		return fmt.Errorf("restore %s: %w", c.snap.ID.Short(), err)
	}
	got := map[string][32]byte{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[rel] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		return err
	}
	if len(got) != len(c.files) {
		return fmt.Errorf("restore %s: %d files, want %d", c.snap.ID.Short(), len(got), len(c.files))
	}
	for name, h := range c.files {
		if got[name] != h {
			return fmt.Errorf("restore %s: %s differs", c.snap.ID.Short(), name)
		}
	}
	return nil
}

// finalCheck restores every unforgotten snapshot, runs a last GC and
// checks that the index holds exactly the referenced chunks and no pack
// without a live chunk.
func (s *stress) finalCheck() {
	t, eng, ctx := s.t, s.srv.eng, context.Background()
	for _, c := range s.live {
		if err := s.restore(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// Backups cut off by the deadline leave sessions whose pins would
	// keep their chunks until the lease ends; end them as the sweeper
	// would.
	b := eng.Index().NewBatch()
	pinned := 0
	eng.Index().AllPins(s.repoID, func(indexkey.SessionID, format.ID) error { pinned++; return nil })
	eng.Index().Sessions(s.repoID, func(sid indexkey.SessionID, _ indexkey.SessionRecord) error {
		b.UnpinAll(s.repoID, sid)
		b.DeleteSession(s.repoID, sid)
		return nil
	})
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	t.Logf("ended the sessions left by interrupted backups (%d pins)", pinned)
	if _, err := gc.Run(ctx, eng, s.repoID, gc.Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	refs := map[format.ID]bool{}
	snaps := 0
	err := eng.Snapshots(ctx, s.repoID, func(sn repo.Snapshot) error {
		snaps++
		return eng.ReadRefs(ctx, sn, func(id format.ID) error { refs[id] = true; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	// A backup the deadline cut off right after its commit landed leaves a
	// snapshot the test never registered: at most one per backup worker.
	if snaps < len(s.live) || snaps > len(s.live)+2 {
		t.Fatalf("%d snapshots in the index, %d expected", snaps, len(s.live))
	}
	perPack := map[format.ID]int{}
	chunks := 0
	err = eng.Index().Chunks(s.repoID, func(id format.ID, loc indexkey.ChunkLoc) error {
		chunks++
		if !refs[id] {
			t.Errorf("chunk %s is in the index but no snapshot references it", id.Short())
		}
		perPack[loc.Pack]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if chunks != len(refs) {
		t.Fatalf("index holds %d chunks, snapshots reference %d", chunks, len(refs))
	}
	err = eng.Index().Packs(s.repoID, func(id format.ID, p indexkey.PackRecord) error {
		if perPack[id] == 0 {
			t.Errorf("pack %s has no live chunk after the final GC", id.Short())
		}
		if int(p.LiveCount) != perPack[id] {
			t.Errorf("pack %s records %d live chunks, %d point at it", id.Short(), p.LiveCount, perPack[id])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eng.Scrub(ctx, false)
	if err != nil || !rep.Healthy() || rep.ShardsMissing != 0 {
		t.Fatalf("scrub after the final GC: %+v %v", rep, err)
	}
}
