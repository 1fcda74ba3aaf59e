package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/holdfast-backup/holdfast/internal/directio"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// directWriteWindow is the most Put writes with one direct write: a
// direct write waits for the disk, so it is larger than directWindow.
const directWriteWindow = 4 << 20

// directWriteBuffers keeps write windows for reuse: a pack's shards are
// written at once.
var directWriteBuffers = directio.NewBuffers(directWriteWindow, 8)

// writePayload writes p to the new, empty file f: with direct I/O where
// the file system allows it (see direct.go; the kernel then copies nothing
// into page-cache pages that Put would drop again at once), else through
// the page cache.
func (b *Backend) writePayload(ctx context.Context, f *os.File, p backend.Payload) (direct bool, err error) {
	if b.keepCache || b.noDirect.Load() || p.Len() < directAlign {
		return false, copyPayload(ctx, f, p)
	}
	if err := directio.Set(int(f.Fd())); err != nil {
		b.noDirect.Store(true)
		return false, copyPayload(ctx, f, p)
	}
	return b.copyDirect(ctx, f, p)
}

// copyDirect is copyPayload for a file opened for direct I/O. Direct writes
// must be whole blocks from an aligned buffer, so the payload is read into
// an aligned window; the last block is padded with zeros and the file then
// truncated to the payload's length. If the file system refuses a direct
// write, the rest goes through the page cache (and direct is false).
func (b *Backend) copyDirect(ctx context.Context, f *os.File, p backend.Payload) (direct bool, err error) {
	want := p.Len()
	buf := directWriteBuffers.Get()
	defer directWriteBuffers.Put(buf)
	r := p.Open()
	direct = true
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return direct, err
		}
		m, rerr := io.ReadFull(r, buf)
		if n += int64(m); n > want {
			return direct, fmt.Errorf("payload yields more than %d bytes: %w", want, backend.ErrPayload)
		}
		if m > 0 {
			if direct, err = b.writeAt(f, buf, m, n-int64(m), direct); err != nil {
				return direct, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return direct, &payloadError{rerr}
		}
	}
	if n != want {
		return direct, fmt.Errorf("payload yields %d bytes, Len is %d: %w", n, want, backend.ErrPayload)
	}
	if n%directAlign != 0 {
		if err := f.Truncate(n); err != nil {
			return direct, err
		}
	}
	return direct, ctx.Err()
}

// writeAt writes buf[:m] at off: directly when direct is set, padded with
// zeros to a whole block; through the page cache once the file system
// refused a direct write.
func (b *Backend) writeAt(f *os.File, buf []byte, m int, off int64, direct bool) (bool, error) {
	if !direct {
		_, err := f.WriteAt(buf[:m], off)
		return false, err
	}
	w := int(directio.AlignUp(int64(m)))
	clear(buf[m:w])
	done, err := writeDirect(f, buf[:w], off)
	if err == nil || !errors.Is(err, syscall.EINVAL) {
		return true, err
	}
	b.noDirect.Store(true)
	if err := directio.Clear(int(f.Fd())); err != nil {
		return true, err
	}
	if done < m {
		_, err = f.WriteAt(buf[done:m], off+int64(done))
	}
	return false, err
}
