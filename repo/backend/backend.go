package backend

import (
	"bytes"
	"context"
	"io"
	"time"
)

// Backend stores immutable named objects (pack shards, manifests, index
// checkpoints) in one store.
//
// Implementations must provide atomic Put (no reader ever observes a partial
// object), read-after-write for Get, Stat and List, and idempotent Put of
// identical content. All methods are safe for concurrent use, take a context
// and return promptly with its error once it is done. Every method validates
// its name or prefix first and returns [ErrInvalidName] without touching
// storage.
type Backend interface {
	// Put stores p under name, replacing any previous object (last writer
	// wins; callers only rewrite identical content). It is atomic: readers see
	// the old state or the whole new object, never part of it, also when Put
	// fails or the process dies. p may be opened more than once (retries).
	// Put fails with [ErrPayload] if p does not yield exactly p.Len() bytes.
	Put(ctx context.Context, name Name, p Payload) error

	// Get streams length bytes of the object from offset; length < 0 means
	// to the end. It returns [ErrNotExist] (wrapped) for a missing object and
	// [ErrRange] when offset or offset+length lies past the end. A range that
	// ends exactly at the end, including an empty one, is fine. The caller
	// must close the reader.
	//
	// Example: the 100 bytes of a chunk at pack offset 4096 of shard s:
	//
	//	rc, err := b.Get(ctx, s, 4096, 100)
	Get(ctx context.Context, name Name, offset, length int64) (io.ReadCloser, error)

	// Stat returns the object's size and modification time, or
	// [ErrNotExist] (wrapped).
	Stat(ctx context.Context, name Name) (Info, error)

	// List calls fn once for each object whose name starts with prefix
	// (a plain string prefix, not a directory: "packs/a" matches
	// "packs/ab/x" and "packs/a/y"), on the caller's goroutine. The order
	// is not specified. It stops at fn's first error and returns it
	// (possibly wrapped). An empty result is not an error. Objects put or
	// deleted while List runs may or may not be reported.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Delete removes the object. Deleting a missing object is not an error,
	// so Delete is idempotent. (On an S3 bucket with versioning, as Object
	// Lock requires, it hides the object behind a delete marker; locked
	// versions stay until their retention ends.)
	Delete(ctx context.Context, name Name) error

	// String returns a redacted locator for logs: no credentials and no
	// path beyond what the operator configured ("s3://bucket/prefix").
	String() string
}

// Info describes a stored object.
type Info struct {
	Name    Name
	Size    int64
	ModTime time.Time
}

// Payload is the content of a Put. It is rewindable: every Open returns a
// fresh reader positioned at the start, so a store may read it more than once
// (retries, verification). Open must not fail; a payload that can fail reports
// the error from the reader.
type Payload interface {
	// Len is the exact number of bytes every reader yields.
	Len() int64
	// Open returns a new reader over the whole content.
	Open() io.Reader
}

// Bytes returns a [Payload] over b. The store does not keep b after Put
// returns, but the caller must not modify it while Put runs. Its readers are
// *bytes.Reader values, which stores may use without copying.
func Bytes(b []byte) Payload { return bytesPayload(b) }

type bytesPayload []byte

func (p bytesPayload) Len() int64      { return int64(len(p)) }
func (p bytesPayload) Open() io.Reader { return bytes.NewReader(p) }
