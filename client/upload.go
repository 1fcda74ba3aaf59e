package client

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/seal"
)

// Pipeline sizes. The memory the pipeline holds is bounded by
//
//	workers × (chunker buffer: Max + max(Max, 4·Avg))   readers
//	+ budget (max(64 MiB, 4 × (Max + 1 KiB)))            chunks between readers and the stream
//	+ workers × (Max + 1 KiB)                           envelopes being sealed
//	+ bkUploadStreams × bkMaxPutMessage                  the messages being sent
//
// with at most bkMaxWorkers workers: about 128 MiB with the default chunker
// parameters and 2 cores, 300 MiB with 8. Metadata comes on top: the
// listings of the directories on the current path, the scanner's
// look-ahead (bkScanAhead entries), the reference set
// (32 bytes per chunk, twice while sorting), the in-run dedup set (about
// 60 bytes per new chunk) and the parent's present chunk IDs (32 bytes
// each). SPEC.md (client backup) states the same bound.
const (
	bkMaxWorkers = 8
	bkMinBudget  = 64 << 20
	// bkMaxPutMessage bounds the encoding of one PutChunks message.
	// connect-go reads a message into a pooled buffer and recycles only
	// buffers of at most 8 MiB, which the read needs 512 bytes more than
	// the message for; a larger message costs a fresh buffer grown from 512
	// bytes by doubling (zeroed and copied each time), on the server and
	// here, for every message: about a tenth of the server's CPU per byte
	// (server BenchmarkUploadNewChunks, 7 vs 9 MiB messages).
	bkMaxPutMessage = 8<<20 - 4<<10
	// bkChunkOverhead bounds a chunk's protobuf framing in a message: the
	// Chunk field's tag and length, the ID and checksum fields (34 bytes
	// each) and the envelope field's tag and length.
	bkChunkOverhead = 96
	bkMaxFilterIDs  = 10000 // server.MaxFilterIDs
	// bkUploadStreams PutChunks streams share the sealed chunks, so the
	// server checks and stores two messages at once (each stream is one
	// handler) instead of taking turns with the network.
	bkUploadStreams = 2
)

// bkChunk is one chunk on its way from a reader to the upload stream.
// Its budget reservation (cost) is released once it is sent or dropped.
type bkChunk struct {
	t     seal.Type
	id    format.ID
	size  int // plaintext length
	plain []byte
	env   []byte
	sum   [32]byte
	cost  int64
}

// backupPipe moves file content and trees to the server:
//
//	walker ─jobs→ workers (read, chunk, ID) ─offer→ filter (FilterMissing)
//	  ─missing→ sealers (Seal) ─→ uploaders (bkUploadStreams PutChunks streams)
//
// Chunks the server already holds or that this run already offered stop at
// offer or at the filter. Every stage stops on the first error (fail), and
// finish closes the stages in order and returns that error.
type backupPipe struct {
	ctx    context.Context
	cancel context.CancelFunc
	r      *Repository
	sealer *seal.Sealer // r's keys, the backup's compression
	sess   *uploadSession
	budget *bkBudget

	jobs     chan *bkFileJob
	filterCh chan *bkChunk
	sealCh   chan *bkChunk
	uploadCh chan *bkChunk

	workers    sync.WaitGroup
	sealers    sync.WaitGroup
	uploaders  sync.WaitGroup
	filterDone chan struct{}
	finishOnce sync.Once

	errOnce sync.Once
	err     error

	mu    sync.Mutex
	seen  map[format.ID]struct{} // offered in this run
	known idSet                  // parent references the server holds, pinned

	bytesRead, bytesAdded, bytesUploaded atomic.Uint64
}

func newBackupPipe(ctx context.Context, r *Repository, sealer *seal.Sealer, sess *uploadSession, workers int) *backupPipe {
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), bkMaxWorkers)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &backupPipe{
		ctx: ctx, cancel: cancel, r: r, sealer: sealer, sess: sess,
		budget:     newBkBudget(max(bkMinBudget, 4*int64(r.Chunker.Max+1024))),
		jobs:       make(chan *bkFileJob, 2*workers),
		filterCh:   make(chan *bkChunk, bkMaxFilterIDs),
		sealCh:     make(chan *bkChunk, workers),
		uploadCh:   make(chan *bkChunk, 2*workers),
		filterDone: make(chan struct{}),
		seen:       map[format.ID]struct{}{},
	}
	for range workers {
		p.workers.Go(p.readLoop)
		p.sealers.Go(p.sealLoop)
	}
	go p.filterLoop()
	for range bkUploadStreams {
		p.uploaders.Go(p.uploadLoop)
	}
	return p
}

// fail records the first error and stops every stage.
func (p *backupPipe) fail(err error) {
	p.errOnce.Do(func() {
		p.err = err
		p.cancel()
	})
}

// failed returns the recorded error, or the context's.
func (p *backupPipe) failed() error {
	if err := p.ctx.Err(); err != nil {
		p.fail(err)
		return p.err
	}
	return nil
}

// finish waits for every stage to drain, in order, and returns the first
// error. The caller must not submit jobs or offer chunks any more.
func (p *backupPipe) finish() error {
	p.finishOnce.Do(func() {
		close(p.jobs)
		p.workers.Wait()
		close(p.filterCh)
		<-p.filterDone
		p.sealers.Wait()
		close(p.uploadCh)
		p.uploaders.Wait()
	})
	return p.err
}

// stop aborts a pipeline that has not finished.
func (p *backupPipe) stop() {
	p.fail(context.Canceled)
	p.finish()
}

// submit queues a file for the readers.
func (p *backupPipe) submit(j *bkFileJob) error {
	select {
	case p.jobs <- j:
		return nil
	case <-p.ctx.Done():
		return p.failed()
	}
}

// isKnown reports whether id is a parent reference the server holds.
func (p *backupPipe) isKnown(id format.ID) bool {
	return p.known.has(id)
}

// offer hands a chunk to the upload stages unless the server is known to
// hold it or this run offered it already. plain is copied.
func (p *backupPipe) offer(t seal.Type, id format.ID, plain []byte) error {
	if p.isKnown(id) {
		return nil
	}
	p.mu.Lock()
	_, dup := p.seen[id]
	p.seen[id] = struct{}{}
	p.mu.Unlock()
	if dup {
		return nil
	}
	cost := int64(1) << bkBufClass(len(plain)+seal.Overhead)
	if err := p.budget.acquire(p.ctx, cost); err != nil {
		return p.failed()
	}
	it := &bkChunk{t: t, id: id, size: len(plain), plain: append(bkGetBuf(len(plain)), plain...), cost: cost}
	select {
	case p.filterCh <- it:
		return nil
	case <-p.ctx.Done():
		p.drop(it)
		return p.failed()
	}
}

// drop releases an item that will not be sent.
func (p *backupPipe) drop(it *bkChunk) {
	if it.plain != nil {
		bkPutBuf(it.plain)
	}
	if it.env != nil {
		bkPutBuf(it.env)
	}
	it.plain, it.env = nil, nil
	p.budget.release(it.cost)
}

// filterLoop asks the server which offered chunks it lacks. It sends what
// queued up while the previous call was in flight (up to bkMaxFilterIDs), so
// batches grow by themselves when chunks arrive faster than round trips.
func (p *backupPipe) filterLoop() {
	defer close(p.filterDone)
	defer close(p.sealCh)
	batch := make([]*bkChunk, 0, bkMaxFilterIDs)
	for it := range p.filterCh {
		batch = append(batch[:0], it)
	drain:
		for len(batch) < bkMaxFilterIDs {
			select {
			case more, ok := <-p.filterCh:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		missing, err := p.filterMissing(batch)
		if err != nil {
			p.fail(err)
		}
		for i, it := range batch {
			if err != nil || !missing[i] {
				p.drop(it)
				continue
			}
			p.bytesAdded.Add(uint64(it.size))
			select {
			case p.sealCh <- it:
			case <-p.ctx.Done():
				p.drop(it)
			}
		}
	}
}

// filterMissing calls FilterMissing for the items; missing[i] is true when
// the server lacks items[i]. Every ID it holds is now pinned.
func (p *backupPipe) filterMissing(items []*bkChunk) ([]bool, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	ids := make([][]byte, len(items))
	for i, it := range items {
		ids[i] = it.id[:]
	}
	return p.sess.filterMissing(p.ctx, ids)
}

// filterMissing calls FilterMissing for at most bkMaxFilterIDs IDs.
func (s *uploadSession) filterMissing(ctx context.Context, ids [][]byte) ([]bool, error) {
	resp, err := s.c.Upload.FilterMissing(ctx, connect.NewRequest(&holdfastv1.FilterMissingRequest{
		Repo: s.c.Repo(), SessionId: s.id, Ids: ids,
	}))
	if err != nil {
		return nil, fromRPC("filter missing chunks", err)
	}
	// The answer is the subsequence of ids the server lacks, in order.
	out := make([]bool, len(ids))
	j := 0
	for i, id := range ids {
		if j < len(resp.Msg.Missing) && string(resp.Msg.Missing[j]) == string(id) {
			out[i] = true
			j++
		}
	}
	if j != len(resp.Msg.Missing) {
		return nil, format.Corruptf("filter missing chunks: the server answered IDs it was not asked about")
	}
	return out, nil
}

// sealLoop seals the chunks the server lacks.
func (p *backupPipe) sealLoop() {
	for it := range p.sealCh {
		if p.ctx.Err() != nil {
			p.drop(it)
			continue
		}
		env, err := p.sealer.Seal(bkGetBuf(it.size+seal.Overhead), it.t, it.id, it.plain, nil)
		bkPutBuf(it.plain)
		it.plain = nil
		if err != nil {
			p.fail(err)
			p.drop(it)
			continue
		}
		it.env, it.sum = env, blake3.Sum256(env)
		select {
		case p.uploadCh <- it:
		case <-p.ctx.Done():
			p.drop(it)
		}
	}
}

// uploadLoop streams sealed chunks over one PutChunks stream, opened on
// the first chunk it takes (the server refuses an empty stream), in
// messages of up to bkMaxPutMessage bytes (a single larger chunk travels
// alone). bkUploadStreams loops share uploadCh.
func (p *backupPipe) uploadLoop() {
	var stream *connect.ClientStreamForClient[holdfastv1.PutChunksRequest, holdfastv1.PutChunksResponse]
	closed := false // CloseAndReceive was called
	var msg putMessage
	flush := func() {
		defer func() {
			for _, it := range msg.items {
				p.drop(it)
			}
			msg.reset()
		}()
		if len(msg.items) == 0 || p.ctx.Err() != nil {
			return
		}
		req := &holdfastv1.PutChunksRequest{Chunks: msg.chunks}
		if stream == nil {
			stream = p.r.Upload.PutChunks(p.ctx)
			req.Repo, req.SessionId = p.r.Repo(), p.sess.id
		}
		if err := stream.Send(req); err != nil {
			// The server ended the stream; its reason comes with the response.
			closed = true
			if _, cerr := stream.CloseAndReceive(); cerr != nil {
				err = cerr
			}
			p.fail(fromRPC("upload chunks", err))
			return
		}
		for _, it := range msg.items {
			p.bytesUploaded.Add(uint64(len(it.env)))
		}
	}
	for it := range p.uploadCh {
		if p.ctx.Err() != nil {
			p.drop(it)
			continue
		}
		if msg.overflows(it) {
			flush()
		}
		msg.add(it)
		if msg.full() || len(p.uploadCh) == 0 {
			flush()
		}
	}
	flush()
	if stream != nil && !closed {
		if _, err := stream.CloseAndReceive(); err != nil && p.ctx.Err() == nil {
			p.fail(fromRPC("upload chunks", err))
		}
	}
}
