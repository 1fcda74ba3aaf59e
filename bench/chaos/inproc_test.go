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

	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/server"
	"github.com/holdfast-backup/holdfast/server/collector"
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
	hs := server.NewHTTPServer(server.New(eng, server.Options{CollectGarbage: collector.New(eng, 0, nil)}).Handler(), slog.New(slog.DiscardHandler))
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

// TestChaosStoreENOSPCInjected fills stores of six (4+2) through the
// fault-injecting store (every Put fails with ENOSPC) under the real server
// code. With one store full, backups commit, their shards written around
// it; with four full (more than two shards per store left would take),
// backups fail with "full" and commit nothing. Restores keep working
// throughout, and backups resume once Puts succeed again.
func TestChaosStoreENOSPCInjected(t *testing.T) {
	skipShort(t)
	sws := make([]*switchable, 6)
	f := newInprocFixture(t, func(i int, b backend.Backend) backend.Backend {
		sws[i] = &switchable{inner: b, faulty: faulty.Wrap(b, faulty.Always(faulty.OpPut).ENOSPC())}
		return sws[i]
	}, 10, 512<<10)
	if _, r := f.takeBackup(f.backup); r.code != 0 {
		t.Fatalf("first backup: %v", r)
	}
	set := func(stores []int, on bool) func() error {
		return func() error {
			for _, i := range stores {
				sws[i].on.Store(on)
			}
			return nil
		}
	}
	fired := func(stores []int) (n int) {
		for _, i := range stores {
			n += sws[i].faulty.Fired()
		}
		return n
	}
	one, four := []int{3}, []int{0, 2, 3, 5}

	s := newTally(t, "store-enospc-injected")
	fault := storeFault{name: "ENOSPC-injected", store: 3, says: "full", break_: set(one, true), repair: set(one, false)}
	var restored int64
	for range roundsOf(2, 5) {
		s.rounds++
		restored += f.underFault(s, fault)
	}
	if fired(one) == 0 {
		s.fail("the injected ENOSPC never fired")
	}
	s.report(itoa(s.rounds)+" backups written around it", itoa(fired(one))+" puts refused", mib(restored)+" restored while broken", "backup resumed")

	s = newTally(t, "stores-enospc-injected")
	fault = storeFault{name: "four ENOSPC-injected", store: 0, says: "full", break_: set(four, true), repair: set(four, false)}
	restored = 0
	for range roundsOf(2, 5) {
		s.rounds++
		restored += f.underFaults(s, fault)
	}
	s.report(itoa(s.rounds)+" failed backups clean", itoa(fired(four))+" puts refused", mib(restored)+" restored while broken", "backup resumed")
}
