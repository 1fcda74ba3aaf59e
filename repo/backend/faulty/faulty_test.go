package faulty_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/backendtest"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
)

func TestConformancePassThrough(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return faulty.Wrap(mem.New()) })
}

func putN(b backend.Backend, n int) []error {
	errs := make([]error, n)
	for i := range n {
		errs[i] = b.Put(context.Background(), backend.Name(fmt.Sprintf("o/%d", i)), backend.Bytes([]byte("data")))
	}
	return errs
}

func TestOnIndex(t *testing.T) {
	fb := faulty.Wrap(mem.New(), faulty.OnIndex(2, faulty.OpPut))
	defer fb.AssertAllFired(t)
	// Other operations do not count towards the index.
	fb.Stat(context.Background(), "o/x")
	errs := putN(fb, 5)
	for i, err := range errs {
		if (i == 2) != (err != nil) {
			t.Errorf("Put #%d: %v", i, err)
		}
	}
	if !errors.Is(errs[2], faulty.ErrInjected) {
		t.Fatalf("error does not match ErrInjected: %v", errs[2])
	}
	// Op numbers count every operation: Stat was #0, so the third Put is #3.
	if want := "faulty: injected failure at op #3 (put o/2)"; errs[2].Error() != want {
		t.Fatalf("message %q, want %q", errs[2], want)
	}
	var ie *faulty.InjectedError
	if !errors.As(errs[2], &ie) || ie.Seq != 3 || ie.Op != faulty.OpPut || ie.Name != "o/2" {
		t.Fatalf("InjectedError: %+v", ie)
	}
	if _, err := fb.Stat(context.Background(), "o/2"); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("failed Put reached the store: %v", err)
	}
	if fb.Fired() != 1 || fb.Count() != 7 {
		t.Fatalf("Fired() = %d, Count() = %d; want 1, 7", fb.Fired(), fb.Count())
	}
}

func TestOnNameAndAlways(t *testing.T) {
	ctx := context.Background()
	m := mem.New()
	m.Put(ctx, "index/1", backend.Bytes([]byte("i")))
	m.Put(ctx, "packs/1", backend.Bytes([]byte("p")))
	fb := faulty.Wrap(m,
		faulty.OnName("index/", faulty.OpGet, faulty.OpStat).ENOSPC(),
		faulty.Always(faulty.OpDelete),
	)
	defer fb.AssertAllFired(t)
	for range 2 {
		_, err := fb.Stat(ctx, "index/1")
		if !errors.Is(err, backend.ErrFull) || !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("Stat(index/1): %v; want ErrFull, ENOSPC and ErrInjected", err)
		}
	}
	if _, err := fb.Stat(ctx, "packs/1"); err != nil {
		t.Fatalf("Stat(packs/1): %v", err)
	}
	if _, err := backend.ReadAll(ctx, fb, "packs/1", 0, -1); err != nil {
		t.Fatalf("Get(packs/1): %v", err)
	}
	if err := fb.Delete(ctx, "packs/1"); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Delete: %v", err)
	}
	if fb.Fired() != 3 {
		t.Fatalf("Fired() = %d, want 3", fb.Fired())
	}
}

func TestCustomError(t *testing.T) {
	mine := errors.New("disk on fire")
	fb := faulty.Wrap(mem.New(), faulty.OnIndex(0).Err(mine))
	err := fb.List(context.Background(), "r/", func(backend.Info) error { return nil })
	if !errors.Is(err, mine) || !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("List: %v", err)
	}
	if want := `faulty: injected failure at op #0 (list "r/"): disk on fire`; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	fb.AssertAllFired(t)
}

func TestTornPut(t *testing.T) {
	ctx := context.Background()
	m := mem.New()
	fb := faulty.Wrap(m, faulty.TornPut(1))
	defer fb.AssertAllFired(t)
	data := []byte("0123456789")
	if err := fb.Put(ctx, "a", backend.Bytes(data)); err != nil {
		t.Fatal(err)
	}
	if err := fb.Put(ctx, "b", backend.Bytes(data)); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("torn Put: %v", err)
	}
	got, err := backend.ReadAll(ctx, m, "b", 0, -1)
	if err != nil || string(got) != "01234" {
		t.Fatalf("torn object: %q, %v; want the first half", got, err)
	}
	// Torn with an explicit length.
	fb2 := faulty.Wrap(m, faulty.OnName("c", faulty.OpPut).Torn(3))
	fb2.Put(ctx, "c", backend.Bytes(data))
	if got, _ := backend.ReadAll(ctx, m, "c", 0, -1); string(got) != "012" {
		t.Fatalf("Torn(3): %q", got)
	}
}

func TestAssertAllFiredReports(t *testing.T) {
	fb := faulty.Wrap(mem.New(), faulty.OnIndex(5, faulty.OpPut), faulty.Always(faulty.OpGet))
	putN(fb, 2)
	rec := &recorder{TB: t}
	fb.AssertAllFired(rec)
	if len(rec.errs) != 2 || !strings.Contains(rec.errs[0], "OnIndex(5, put) -> fail") ||
		!strings.Contains(rec.errs[0], "matched 2 of 2") {
		t.Fatalf("AssertAllFired reported %q", rec.errs)
	}
}

type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestString(t *testing.T) {
	g := faulty.NewGate()
	fb := faulty.Wrap(mem.New(),
		faulty.OnIndex(3, faulty.OpPut),
		faulty.OnName("index/", faulty.OpGet, faulty.OpStat).ENOSPC(),
		faulty.TornPut(0),
		faulty.Always().WaitFor(g),
		faulty.OnIndex(1, faulty.OpDelete).WaitFor(g).Err(errors.New("boom")),
	)
	want := `faulty(mem)[OnIndex(3, put) -> fail; ` +
		`OnName("index/", get|stat) -> fail: backend: store is full (no space left on device); ` +
		`TornPut(0) -> torn put (half), then fail; ` +
		`Always(any) -> wait, then proceed; ` +
		`OnIndex(1, delete) -> wait, then fail: boom]`
	if got := fb.String(); got != want {
		t.Fatalf("String()\n got %s\nwant %s", got, want)
	}
}

// TestOrderUnderConcurrency: however goroutines interleave, exactly one of
// the matching operations fails for each index, and the failing op numbers
// are exactly the planned ones.
func TestOrderUnderConcurrency(t *testing.T) {
	fb := faulty.Wrap(mem.New(), faulty.OnIndex(10, faulty.OpPut), faulty.OnIndex(20, faulty.OpPut))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []int
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				err := fb.Put(context.Background(), backend.Name(fmt.Sprintf("g%d/%d", g, i)), backend.Bytes([]byte("x")))
				var ie *faulty.InjectedError
				if errors.As(err, &ie) {
					mu.Lock()
					failed = append(failed, ie.Seq)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	fb.AssertAllFired(t)
	if len(failed) != 2 || fb.Fired() != 2 || fb.Count() != 64 {
		t.Fatalf("failed ops %v, Fired %d, Count %d", failed, fb.Fired(), fb.Count())
	}
	if !(failed[0] == 10 && failed[1] == 20 || failed[0] == 20 && failed[1] == 10) {
		t.Fatalf("failed ops %v, want 10 and 20", failed)
	}
}

func TestWaitFor(t *testing.T) {
	ctx := context.Background()
	m := mem.New()
	g := faulty.NewGate()
	fb := faulty.Wrap(m, faulty.OnIndex(0, faulty.OpPut).WaitFor(g))
	done := make(chan error, 1)
	go func() { done <- fb.Put(ctx, "held", backend.Bytes([]byte("x"))) }()
	<-g.Reached()
	// Paused before the store: nothing written yet, and the op stays put.
	if _, err := m.Stat(ctx, "held"); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("object written while paused: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Put returned while paused: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	g.Release()
	if err := <-done; err != nil {
		t.Fatalf("released Put: %v", err)
	}
	if _, err := m.Stat(ctx, "held"); err != nil {
		t.Fatalf("released Put did not store: %v", err)
	}
	fb.AssertAllFired(t)
}

func TestWaitForCanceled(t *testing.T) {
	g := faulty.NewGate()
	fb := faulty.Wrap(mem.New(), faulty.Always(faulty.OpGet).WaitFor(g))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := fb.Get(ctx, "x", 0, -1)
		done <- err
	}()
	<-g.Reached()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("paused Get after cancel: %v", err)
	}
}

func TestWaitThenFail(t *testing.T) {
	g := faulty.NewGate()
	g.Release()
	fb := faulty.Wrap(mem.New(), faulty.OnIndex(0).WaitFor(g).ENOSPC())
	err := fb.Put(context.Background(), "x", backend.Bytes(nil))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WaitFor+ENOSPC: %v", err)
	}
}

func TestOps(t *testing.T) {
	if got := faulty.Ops(); got != faulty.OpAll {
		t.Fatalf("Ops() = %v", got)
	}
	if got := faulty.Ops(faulty.OpPut, faulty.OpList).String(); got != "put|list" {
		t.Fatalf("String = %q", got)
	}
}
