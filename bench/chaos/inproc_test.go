package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/gc"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/server"
)

// newInprocFixture runs the server in this process, over six local stores
// (4+2) with store i passed through wrap: the way to put the
// fault-injecting store under the real server code. The clients are still
// the real binary.
func newInprocFixture(t *testing.T, wrap func(i int, b backend.Backend) backend.Backend, files int, size int64) *fixture {
	t.Helper()
	ctx := context.Background()
	base := t.TempDir()
	var stores []erasure.Store
	var urls, dirs []string
	for i := range 6 {
		dir := filepath.Join(base, fmt.Sprintf("store%d", i))
		b, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs, urls = append(dirs, dir), append(urls, b.String())
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: wrap(i, b)})
	}
	data := filepath.Join(base, "data")
	eng, err := repo.Open(ctx, repo.Config{DataDir: data, Layout: repo.NewLayout(urls, 4, 2), Stores: stores})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.EnsureAdminToken(data, eng); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := server.Options{CollectGarbage: inprocCollector(eng)}
	hs := server.NewHTTPServer(server.New(eng, opts).Handler(), slog.New(slog.DiscardHandler))
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(sctx, hs, ln, "", "") }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		eng.Close(context.Background())
	})
	d := &daemon{t: t, data: data, url: "http://" + ln.Addr().String()}
	f := &fixture{t: t, d: d, stores: dirs}
	f.setup(files, size)
	return f
}

// switchable sends every operation to a fault-injecting wrapper while on,
// and straight to the store while off: a store that breaks and comes back.
type switchable struct {
	inner  backend.Backend
	faulty *faulty.Backend
	on     atomic.Bool
}

var _ backend.Backend = (*switchable)(nil)

func (s *switchable) pick() backend.Backend {
	if s.on.Load() {
		return s.faulty
	}
	return s.inner
}

func (s *switchable) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	return s.pick().Put(ctx, name, p)
}

func (s *switchable) Get(ctx context.Context, name backend.Name, offset, length int64) (io.ReadCloser, error) {
	return s.pick().Get(ctx, name, offset, length)
}

func (s *switchable) Stat(ctx context.Context, name backend.Name) (backend.Info, error) {
	return s.pick().Stat(ctx, name)
}

func (s *switchable) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	return s.pick().List(ctx, prefix, fn)
}

func (s *switchable) Delete(ctx context.Context, name backend.Name) error {
	return s.pick().Delete(ctx, name)
}

func (s *switchable) String() string { return s.inner.String() }

// TestChaosStoreENOSPCInjected fills one store of six through the
// fault-injecting store (every Put fails with ENOSPC) under the real server
// code: backups fail with "full" and commit nothing, restores keep working,
// and backups resume once Puts succeed again.
func TestChaosStoreENOSPCInjected(t *testing.T) {
	skipShort(t)
	var sw *switchable
	f := newInprocFixture(t, func(i int, b backend.Backend) backend.Backend {
		if i != 3 {
			return b
		}
		sw = &switchable{inner: b, faulty: faulty.Wrap(b, faulty.Always(faulty.OpPut).ENOSPC())}
		return sw
	}, 10, 512<<10)
	if _, r := f.takeBackup(f.backup); r.code != 0 {
		t.Fatalf("first backup: %v", r)
	}
	s := newTally(t, "store-enospc-injected")
	fault := storeFault{name: "ENOSPC-injected", store: 3, says: "full",
		break_: func() error { sw.on.Store(true); return nil },
		repair: func() error { sw.on.Store(false); return nil },
	}
	var restored int64
	for range roundsOf(2, 5) {
		s.rounds++
		restored += f.underFault(s, fault)
	}
	if sw.faulty.Fired() == 0 {
		s.fail("the injected ENOSPC never fired")
	}
	s.report(itoa(s.rounds)+" failed backups clean", itoa(sw.faulty.Fired())+" puts refused", mib(restored)+" restored while broken", "backup resumed")
}

// inprocCollector wires the real gc.Run (default grace) into the in-process
// server as holdfastd does, so CollectGarbage answers like the real server
// rather than Unimplemented (HTTP 501, which rpc-garbage counts as a server
// error). Only the fields the suite reads are reported.
func inprocCollector(eng *repo.Repo) server.GarbageCollector {
	return func(ctx context.Context, repoID uint32, dryRun bool) (*holdfastv1.GCReport, error) {
		rep, err := gc.Run(ctx, eng, repoID, gc.Options{DryRun: dryRun, Log: slog.New(slog.DiscardHandler)})
		if errors.Is(err, gc.ErrBusy) {
			return nil, fmt.Errorf("%w: %v", server.ErrBusy, err)
		}
		if err != nil {
			return nil, err
		}
		return &holdfastv1.GCReport{DryRun: rep.DryRun, Snapshots: uint64(rep.Snapshots)}, nil
	}
}
