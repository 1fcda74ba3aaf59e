package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Retainer = (*Backend)(nil)
)

// Backend is an in-memory store. The zero value is not usable; call [New].
type Backend struct {
	mu        sync.RWMutex
	objects   map[backend.Name]object
	retention map[backend.Name]Retention
	now       func() time.Time
}

type object struct {
	data    []byte
	modTime time.Time
}

// Retention is the Object Lock retention recorded for an object.
type Retention struct {
	Mode  backend.RetentionMode
	Until time.Time
}

// New returns an empty store.
func New() *Backend {
	return &Backend{
		objects:   make(map[backend.Name]object),
		retention: make(map[backend.Name]Retention),
		now:       time.Now,
	}
}

// String implements [backend.Backend].
func (b *Backend) String() string { return "mem" }

// Put implements [backend.Backend]. It reads p twice and checks the length
// and the BLAKE3 hash of both reads.
func (b *Backend) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: put %s: %w", name, err)
	}
	data, sum, err := readPayload(p)
	if err != nil {
		return fmt.Errorf("mem: put %s: %w", name, err)
	}
	_, sum2, err := readPayload(p)
	if err != nil {
		return fmt.Errorf("mem: put %s: reread: %w", name, err)
	}
	if sum != sum2 {
		return fmt.Errorf("mem: put %s: reread gave different content: %w", name, backend.ErrPayload)
	}
	// A Put whose context ended while the payload was read must not
	// store anything.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: put %s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[name] = object{data: data, modTime: b.now()}
	return nil
}

func readPayload(p backend.Payload) ([]byte, [32]byte, error) {
	want := p.Len()
	if want < 0 {
		return nil, [32]byte{}, fmt.Errorf("negative length %d: %w", want, backend.ErrPayload)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(want, 64<<20)))
	n, err := buf.ReadFrom(io.LimitReader(p.Open(), want+1))
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("read payload: %w", err)
	}
	if n != want {
		return nil, [32]byte{}, fmt.Errorf("payload yields %s bytes, Len is %d: %w",
			countString(n, want), want, backend.ErrPayload)
	}
	data := bytes.Clone(buf.Bytes())
	if data == nil {
		data = []byte{}
	}
	return data, blake3.Sum256(data), nil
}

func countString(n, want int64) string {
	if n > want {
		return fmt.Sprintf("more than %d", want)
	}
	return fmt.Sprint(n)
}

// Get implements [backend.Backend]. It returns a copy of the range.
func (b *Backend) Get(ctx context.Context, name backend.Name, offset, length int64) (io.ReadCloser, error) {
	if err := name.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem: get %s: %w", name, err)
	}
	b.mu.RLock()
	obj, ok := b.objects[name]
	b.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("mem: get %s: %w", name, backend.ErrNotExist)
	}
	size := int64(len(obj.data))
	if length < 0 {
		length = size - offset
	}
	if offset < 0 || offset > size || length > size-offset {
		return nil, fmt.Errorf("mem: get %s: offset %d length %d of %d bytes: %w",
			name, offset, length, size, backend.ErrRange)
	}
	data := bytes.Clone(obj.data[offset : offset+length])
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Stat implements [backend.Backend].
func (b *Backend) Stat(ctx context.Context, name backend.Name) (backend.Info, error) {
	if err := name.Validate(); err != nil {
		return backend.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return backend.Info{}, fmt.Errorf("mem: stat %s: %w", name, err)
	}
	b.mu.RLock()
	obj, ok := b.objects[name]
	b.mu.RUnlock()
	if !ok {
		return backend.Info{}, fmt.Errorf("mem: stat %s: %w", name, backend.ErrNotExist)
	}
	return backend.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime}, nil
}

// List implements [backend.Backend]. It reports objects in lexical order of
// their names, from a snapshot taken when List starts.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	if err := backend.ValidatePrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: list %q: %w", prefix, err)
	}
	b.mu.RLock()
	var infos []backend.Info
	for name, obj := range b.objects {
		if strings.HasPrefix(string(name), prefix) {
			infos = append(infos, backend.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime})
		}
	}
	b.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem: list %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements [backend.Backend]. Deleting a missing object is not an
// error. Delete ignores recorded retention; tests that need enforcement check
// [Backend.Retention] themselves.
func (b *Backend) Delete(ctx context.Context, name backend.Name) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: delete %s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.objects, name)
	return nil
}
