package faulty

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Wrapper = (*Backend)(nil)
)

// Backend is a store that runs every operation past its injectors before
// passing it to the wrapped store.
type Backend struct {
	inner     backend.Backend
	injectors []*Injector

	mu    sync.Mutex
	seq   int // operations seen
	fired int
}

// Wrap returns b with the injectors in plan order.
func Wrap(b backend.Backend, injectors ...*Injector) *Backend {
	return &Backend{inner: b, injectors: injectors}
}

// Unwrap returns the wrapped store.
func (b *Backend) Unwrap() backend.Backend { return b.inner }

// String describes the wrapped store and the plan:
// `faulty(mem)[OnIndex(3, put) -> fail]`.
func (b *Backend) String() string {
	plan := make([]string, len(b.injectors))
	for i, in := range b.injectors {
		plan[i] = in.String()
	}
	return "faulty(" + b.inner.String() + ")[" + strings.Join(plan, "; ") + "]"
}

// Fired returns how many operations the injectors acted on.
func (b *Backend) Fired() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fired
}

// Count returns how many operations the wrapper has seen (all kinds, valid
// names only). Run a workload once without injectors to learn n, then fail
// each operation 0..n-1 in turn.
func (b *Backend) Count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// AssertAllFired reports, as a test error, every injector that never acted.
func (b *Backend) AssertAllFired(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, in := range b.injectors {
		if in.fired == 0 {
			t.Errorf("faulty: injector never fired: %s (it matched %d of %d operations)", in, in.seen, b.seq)
		}
	}
}

// inject numbers the operation, finds the injector that acts on it, and
// carries out the pause. It returns the injector (nil: proceed normally)
// and the operation number.
func (b *Backend) inject(ctx context.Context, op Op, name string) (*Injector, int, error) {
	b.mu.Lock()
	seq := b.seq
	b.seq++
	var acting *Injector
	for _, in := range b.injectors {
		if in.match(op, name) && acting == nil {
			acting = in
			in.fired++
			b.fired++
		}
	}
	b.mu.Unlock()
	if acting == nil {
		return nil, seq, nil
	}
	if acting.gate != nil && !acting.gate.wait(ctx.Done()) {
		return nil, seq, fmt.Errorf("faulty: op #%d (%s %s) paused: %w", seq, op, name, ctx.Err())
	}
	if !acting.fails {
		return nil, seq, nil
	}
	return acting, seq, &InjectedError{Seq: seq, Op: op, Name: name, Err: acting.err}
}

// Put implements [backend.Backend].
func (b *Backend) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	if err := name.Validate(); err != nil {
		return err
	}
	in, _, err := b.inject(ctx, OpPut, string(name))
	if err != nil {
		if in != nil && in.torn {
			keep := in.keep
			if keep < 0 || keep > p.Len() {
				keep = p.Len() / 2
			}
			if terr := b.inner.Put(ctx, name, truncated{p, keep}); terr != nil {
				return fmt.Errorf("%w (torn write also failed: %v)", err, terr)
			}
		}
		return err
	}
	return b.inner.Put(ctx, name, p)
}

// truncated is the first n bytes of a payload.
type truncated struct {
	p backend.Payload
	n int64
}

func (t truncated) Len() int64      { return t.n }
func (t truncated) Open() io.Reader { return io.LimitReader(t.p.Open(), t.n) }

// Get implements [backend.Backend].
func (b *Backend) Get(ctx context.Context, name backend.Name, offset, length int64) (io.ReadCloser, error) {
	if err := name.Validate(); err != nil {
		return nil, err
	}
	if _, _, err := b.inject(ctx, OpGet, string(name)); err != nil {
		return nil, err
	}
	return b.inner.Get(ctx, name, offset, length)
}

// Stat implements [backend.Backend].
func (b *Backend) Stat(ctx context.Context, name backend.Name) (backend.Info, error) {
	if err := name.Validate(); err != nil {
		return backend.Info{}, err
	}
	if _, _, err := b.inject(ctx, OpStat, string(name)); err != nil {
		return backend.Info{}, err
	}
	return b.inner.Stat(ctx, name)
}

// List implements [backend.Backend]. Injectors see the prefix as the name.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	if err := backend.ValidatePrefix(prefix); err != nil {
		return err
	}
	if _, _, err := b.inject(ctx, OpList, prefix); err != nil {
		return err
	}
	return b.inner.List(ctx, prefix, fn)
}

// Delete implements [backend.Backend].
func (b *Backend) Delete(ctx context.Context, name backend.Name) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if _, _, err := b.inject(ctx, OpDelete, string(name)); err != nil {
		return err
	}
	return b.inner.Delete(ctx, name)
}
