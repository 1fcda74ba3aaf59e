package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/internal/envbuf"
	"github.com/holdfast-backup/holdfast/internal/rpccodec"
)

// Read-ahead defaults of a ChunkReader (SPEC.md §12.4). The byte budget
// bounds the plaintext a reader holds, fetched or being fetched, however
// far ahead its producer runs; the server adds its own 32 MiB per stream.
const (
	DefaultReadAhead = 64 << 20 // plaintext bytes in flight
	defaultReadBatch = 4096     // IDs per ReadChunks stream
	defaultStreams   = 2        // ReadChunks streams at once
	maxReadIDs       = 100_000  // server limit per ReadChunks
	readRetries      = 6        // attempts of a batch that fails transiently
)

// readBackoff is the wait before the first retry; it doubles up to 8 s,
// so a batch rides out about 15 s of unavailability (a server restart).
var readBackoff = 500 * time.Millisecond

// ReadRequest names one chunk to fetch.
type ReadRequest struct {
	ID     format.ID
	Length uint64    // plaintext length the referring extent states
	Type   seal.Type // seal.TypeData for file content, seal.TypeTree for listings
	Tag    any       // returned unchanged with the chunk: what it is for
}

// ReadChunk is one requested chunk, opened and checked: the envelope
// authenticated under the requested ID, the plaintext hashing to it, the
// type and the length those of the request.
type ReadChunk struct {
	ReadRequest
	// Data is the plaintext. It is valid until Release.
	Data []byte
	// Err says why this chunk could not be fetched or opened (the server
	// lacks it, cannot repair it, or sent an envelope that does not open);
	// Data is nil then. Other chunks are still delivered.
	Err error

	cost    int64
	buf     *[]byte
	cr      *ChunkReader
	done    chan struct{}
	fatal   bool
	release sync.Once
}

// Release returns the chunk's buffer and its share of the read-ahead
// budget. Every chunk that Next returns must be released, once; Data must
// not be used after.
func (c *ReadChunk) Release() {
	c.release.Do(func() {
		if c.buf != nil {
			putBuf(c.buf)
			c.buf, c.Data = nil, nil
		}
		c.cr.budget.release(c.cost)
	})
}

// ReadOptions tune a ChunkReader; zero fields take the defaults.
type ReadOptions struct {
	MaxBytes int64 // plaintext bytes in flight (DefaultReadAhead)
	MaxBatch int   // IDs per ReadChunks stream (4096)
	Streams  int   // ReadChunks streams at once (2)
	Openers  int   // goroutines opening envelopes (GOMAXPROCS)
}

// ChunkReader fetches chunks with ChunkService.ReadChunks and hands them
// back opened, in the order they were pushed, reading ahead up to a byte
// budget. A producer goroutine calls Push (and CloseSend at the end) while a
// consumer calls Next; Push blocks when the producer is far ahead.
//
// Pushed requests are grouped into batches of consecutive requests, one
// ReadChunks stream each, as many as the budget admits at once. Budget is
// reserved in push order, so a later batch can never starve an earlier one.
// A stream that fails transiently is retried from the first chunk it did
// not deliver; a chunk the server reports missing or damaged becomes that
// chunk's Err, and the stream resumes after it.
//
// The streams ask the server not to check the records it reads
// (client_verifies): every envelope is authenticated here anyway. A chunk
// whose envelope fails that is fetched once more, alone and checked by the
// server, which rebuilds a damaged record from the other shards.
type ChunkReader struct {
	r      *Repository
	opts   ReadOptions
	ctx    context.Context
	cancel context.CancelFunc
	budget *rdBudget

	in    chan ReadRequest
	order chan []*ReadChunk
	open  chan rdOpen
	slots chan struct{}

	cur []*ReadChunk // batch being consumed
	pos int

	wg      sync.WaitGroup
	fetched atomic.Int64 // chunks received
	bytes   atomic.Int64 // envelope bytes received
	closeIn sync.Once
}

type rdOpen struct {
	c   *ReadChunk
	env []byte
}

// NewChunkReader starts a reader. Close it when done, also after an error.
func (r *Repository) NewChunkReader(ctx context.Context, opts ReadOptions) *ChunkReader {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultReadAhead
	}
	if opts.MaxBatch <= 0 || opts.MaxBatch > maxReadIDs {
		opts.MaxBatch = defaultReadBatch
	}
	if opts.Streams <= 0 {
		opts.Streams = defaultStreams
	}
	if opts.Openers <= 0 {
		opts.Openers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	cr := &ChunkReader{
		r: r, opts: opts, ctx: ctx, cancel: cancel,
		budget: newBudget(opts.MaxBytes),
		in:     make(chan ReadRequest, 1024),
		order:  make(chan []*ReadChunk, opts.Streams+1),
		open:   make(chan rdOpen, 2*opts.Openers),
		slots:  make(chan struct{}, opts.Streams),
	}
	cr.wg.Add(1 + opts.Openers)
	go cr.batcher()
	for range opts.Openers {
		go cr.opener()
	}
	return cr
}

// Push queues one chunk. It blocks while the queue is full and fails only
// when the reader is closed or its context ends.
func (cr *ChunkReader) Push(req ReadRequest) error {
	select {
	case cr.in <- req:
		return nil
	case <-cr.ctx.Done():
		return cr.ctx.Err()
	}
}

// CloseSend says no more chunks will be pushed; Next returns io.EOF after
// the last one.
func (cr *ChunkReader) CloseSend() { cr.closeIn.Do(func() { close(cr.in) }) }

// Next returns the next chunk in push order. A chunk that could not be
// fetched or opened comes back with Err set; Next itself fails only when
// the reader cannot go on (context ended, token refused, server gone after
// retries). It returns io.EOF after CloseSend and the last chunk.
func (cr *ChunkReader) Next() (*ReadChunk, error) {
	for cr.cur == nil || cr.pos == len(cr.cur) {
		select {
		case b, ok := <-cr.order:
			if !ok {
				if err := cr.ctx.Err(); err != nil {
					return nil, err
				}
				return nil, io.EOF
			}
			cr.cur, cr.pos = b, 0
		case <-cr.ctx.Done():
			return nil, cr.ctx.Err()
		}
	}
	c := cr.cur[cr.pos]
	cr.pos++
	select {
	case <-c.done:
	case <-cr.ctx.Done():
		return nil, cr.ctx.Err()
	}
	if c.fatal {
		c.Release()
		return nil, c.Err
	}
	return c, nil
}

// Fetched returns how many chunks and envelope bytes the server sent.
func (cr *ChunkReader) Fetched() (chunks, bytes int64) { return cr.fetched.Load(), cr.bytes.Load() }

// Close stops the reader and waits for its goroutines. Chunks already
// returned stay valid until released.
func (cr *ChunkReader) Close() {
	cr.cancel()
	cr.wg.Wait()
}

// batcher groups pushed requests into batches and starts one fetch per
// batch once a stream slot and the budget for the batch are free.
func (cr *ChunkReader) batcher() {
	defer cr.wg.Done()
	defer close(cr.order)
	var carry *ReadRequest
	for {
		select {
		case cr.slots <- struct{}{}:
		case <-cr.ctx.Done():
			return
		}
		var first ReadRequest
		if carry != nil {
			first, carry = *carry, nil
		} else {
			var ok bool
			select {
			case first, ok = <-cr.in:
			case <-cr.ctx.Done():
				return
			}
			if !ok {
				return
			}
		}
		c := cr.newChunk(first)
		if !cr.budget.acquire(cr.ctx, c.cost) {
			return
		}
		batch := []*ReadChunk{c}
		closed := false
	drain:
		for len(batch) < cr.opts.MaxBatch {
			select {
			case req, ok := <-cr.in:
				if !ok {
					closed = true
					break drain
				}
				c := cr.newChunk(req)
				if !cr.budget.tryAcquire(c.cost) {
					carry = &req
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		select {
		case cr.order <- batch:
		case <-cr.ctx.Done():
			return
		}
		cr.wg.Add(1)
		go cr.fetch(batch)
		if closed && carry == nil {
			return
		}
	}
}

func (cr *ChunkReader) newChunk(req ReadRequest) *ReadChunk {
	return &ReadChunk{ReadRequest: req, cr: cr, done: make(chan struct{}), cost: bufClass(req.Length)}
}

// fetch streams one batch, retrying transient failures from the first
// chunk not yet received.
func (cr *ChunkReader) fetch(batch []*ReadChunk) {
	defer cr.wg.Done()
	defer func() { <-cr.slots }()
	next, attempts := 0, 0
	for next < len(batch) {
		got, err := cr.stream(batch[next:])
		next += got
		if err == nil {
			continue // the stream ended early without error: ask again
		}
		if got > 0 {
			attempts = 0
		}
		if cr.ctx.Err() != nil {
			cr.failRest(batch[next:], cr.ctx.Err(), true)
			return
		}
		switch connect.CodeOf(err) {
		case connect.CodeNotFound, connect.CodeDataLoss:
			// The server names the chunk it could not deliver: the next one.
			c := batch[next]
			c.Err = fmt.Errorf("chunk %s: %w", c.ID.Short(), fromRPC("read", err))
			close(c.done)
			next++
			continue
		case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeInternal,
			connect.CodeAborted, connect.CodeDeadlineExceeded:
			if attempts++; attempts < readRetries {
				wait := min(readBackoff<<(attempts-1), 8*time.Second)
				select {
				case <-time.After(wait):
					continue
				case <-cr.ctx.Done():
					cr.failRest(batch[next:], cr.ctx.Err(), true)
					return
				}
			}
		}
		cr.failRest(batch[next:], fromRPC("read chunks", err), true)
		return
	}
}

// stream runs one ReadChunks call for batch and returns how many chunks
// it received (handed to the openers) and the error that ended it early.
func (cr *ChunkReader) stream(batch []*ReadChunk) (int, error) {
	ids := make([][]byte, len(batch))
	for i, c := range batch {
		ids[i] = c.ID[:]
	}
	ctx, cancel := context.WithCancel(cr.ctx)
	defer cancel()
	s, err := cr.r.Chunks.ReadChunks(ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{
		Repo: cr.r.Repo(), Ids: ids, ClientVerifies: true, Batch: true,
	}))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	got := 0
	for got < len(batch) && s.Receive() {
		msg := s.Msg()
		chunks := msg.Chunks
		if len(chunks) == 0 { // a server that does not batch
			chunks = []*holdfastv1.Chunk{{Id: msg.Id, Envelope: msg.Envelope}}
		}
		for i, m := range chunks {
			if got == len(batch) { // more than asked: not ours to open
				rpccodec.Release(chunks[i:])
				break
			}
			if err := cr.deliver(batch[got], m.Id, m.Envelope); err != nil {
				rpccodec.Release(chunks[i+1:]) // deliver gave m's back
				return got, err
			}
			got++
		}
	}
	if err := s.Err(); err != nil {
		return got, err
	}
	if got < len(batch) {
		return got, connect.NewError(connect.CodeUnknown, errors.New("stream ended early"))
	}
	return got, nil
}

// deliver hands env, received for c under id, to the openers; a chunk the
// server sent under another ID fails with that. It fails only when the
// reader is closed, and then c is not delivered. Either way env is no
// longer the caller's: an opener or deliver hands its buffer back.
func (cr *ChunkReader) deliver(c *ReadChunk, id, env []byte) error {
	cr.fetched.Add(1)
	cr.bytes.Add(int64(len(env)))
	if string(id) != string(c.ID[:]) {
		envbuf.Put(env)
		c.Err = format.Corruptf("chunk %s: the server sent chunk %x instead", c.ID.Short(), id)
		close(c.done)
		return nil
	}
	select {
	case cr.open <- rdOpen{c, env}:
		return nil
	case <-cr.ctx.Done():
		envbuf.Put(env)
		return cr.ctx.Err()
	}
}

func (cr *ChunkReader) failRest(rest []*ReadChunk, err error, fatal bool) {
	for _, c := range rest {
		c.Err, c.fatal = err, fatal
		close(c.done)
	}
}

// opener authenticates and decodes envelopes.
func (cr *ChunkReader) opener() {
	defer cr.wg.Done()
	for {
		select {
		case j := <-cr.open:
			j.c.Err = cr.openChunk(j.c, j.env)
			envbuf.Put(j.env) // received into a pooled buffer (rpccodec)
			close(j.c.done)
		case <-cr.ctx.Done():
			return
		}
	}
}

// openChunk opens env, the envelope of c as stored. One that fails is
// fetched again with the server's check (readVerified) and opened once
// more; the second failure is c's error.
func (cr *ChunkReader) openChunk(c *ReadChunk, env []byte) error {
	err := cr.openEnvelope(c, env)
	if err == nil || cr.ctx.Err() != nil {
		return err
	}
	checked, ferr := cr.readVerified(c.ID)
	if ferr != nil {
		return ferr
	}
	defer envbuf.Put(checked)
	return cr.openEnvelope(c, checked)
}

// readVerified reads chunk id alone, with the server checking its record
// (and rebuilding it from the other shards if it is damaged).
func (cr *ChunkReader) readVerified(id format.ID) ([]byte, error) {
	s, err := cr.r.Chunks.ReadChunks(cr.ctx, connect.NewRequest(&holdfastv1.ReadChunksRequest{
		Repo: cr.r.Repo(), Ids: [][]byte{id[:]},
	}))
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), fromRPC("read", err))
	}
	defer s.Close()
	if !s.Receive() {
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("chunk %s: %w", id.Short(), fromRPC("read", err))
		}
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), fromRPC("read", connect.NewError(connect.CodeUnknown, errors.New("stream ended early"))))
	}
	if msg := s.Msg(); string(msg.Id) == string(id[:]) {
		cr.fetched.Add(1) // received twice: Fetched counts what came over the wire
		cr.bytes.Add(int64(len(msg.Envelope)))
		return msg.Envelope, nil
	}
	return nil, format.Corruptf("chunk %s: the server sent chunk %x instead", id.Short(), s.Msg().Id)
}

// openEnvelope authenticates and decodes env into c.
func (cr *ChunkReader) openEnvelope(c *ReadChunk, env []byte) error {
	buf := getBuf(c.Length)
	// The envelope's type is not checked: data and a tree with the same
	// bytes share one ID and one envelope (SPEC.md §5.4), and Open has
	// proved these are the bytes the ID names.
	plain, _, err := cr.r.Sealer.Open((*buf)[:0], c.ID, env)
	switch {
	case err != nil: // names the chunk already
	case uint64(len(plain)) != c.Length:
		err = format.Corruptf("chunk %s: plaintext is %d bytes, the extent says %d", c.ID.Short(), len(plain), c.Length)
	}
	if err != nil {
		putBuf(buf)
		return err
	}
	*buf = plain
	c.buf, c.Data = buf, plain
	return nil
}

// rdBudget is a byte semaphore with one acquirer (the batcher).
type rdBudget struct {
	mu    sync.Mutex
	avail int64
	max   int64
	wake  chan struct{}
}

func newBudget(n int64) *rdBudget {
	return &rdBudget{avail: n, max: n, wake: make(chan struct{}, 1)}
}

// tryAcquire takes n bytes if they are free. A request larger than the
// whole budget takes all of it.
func (b *rdBudget) tryAcquire(n int64) bool {
	n = min(n, b.max)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.avail < n {
		return false
	}
	b.avail -= n
	return true
}

func (b *rdBudget) acquire(ctx context.Context, n int64) bool {
	for !b.tryAcquire(n) {
		select {
		case <-b.wake:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (b *rdBudget) release(n int64) {
	n = min(n, b.max)
	b.mu.Lock()
	b.avail += n
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Plaintext buffers come in size classes, so a pooled 16 MiB buffer never
// holds a 4 KiB chunk, and the budget charges a chunk its class size.
var bufClasses = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, format.MaxChunkSize}

var bufPools [len(bufClasses)]sync.Pool

func classOf(n uint64) int {
	for i, c := range bufClasses {
		if n <= uint64(c) {
			return i
		}
	}
	return len(bufClasses) - 1
}

func bufClass(n uint64) int64 { return int64(bufClasses[classOf(n)]) }

func getBuf(n uint64) *[]byte {
	i := classOf(n)
	if b, ok := bufPools[i].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, bufClasses[i])
	return &b
}

func putBuf(b *[]byte) {
	c := cap(*b)
	i := classOf(uint64(c))
	if bufClasses[i] != c {
		return // grown by Open: not a class size
	}
	*b = (*b)[:0]
	bufPools[i].Put(b)
}
