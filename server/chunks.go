package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/internal/envbuf"
	"github.com/holdfast-backup/holdfast/repo"
)

// Read-ahead of ReadChunks (SPEC.md §12.4). A restore asks for chunks in
// file order; reading them one at a time would leave the stores idle while
// the client writes, so a few workers read ahead. The byte budget bounds the
// memory one stream can pin however large the request, and the chunk bound
// keeps bookkeeping small when chunks are tiny.
const (
	ReadAheadWorkers = 4
	ReadAheadBytes   = 32 << 20
	readAheadChunks  = 256
)

// readAheadLive counts the goroutines of all running read-aheads, so tests
// can check that a cancelled stream leaves none behind.
var readAheadLive atomic.Int64

// spanReads counts the runs of chunks read with one span read, so tests
// can check that side-by-side chunks are read together.
var spanReads atomic.Int64

// ChunkService streams sealed chunks back for restores.
type ChunkService struct{ *Server }

var _ holdfastv1connect.ChunkServiceHandler = (*ChunkService)(nil)

// ReadChunks sends the envelopes of the requested chunks strictly in request
// order, several to a message when the request sets batch. A chunk the
// repository does not hold ends the stream with NotFound, one that cannot
// be rebuilt from its shards with DataLoss; both name it.
func (s *ChunkService) ReadChunks(ctx context.Context, req *connect.Request[holdfastv1.ReadChunksRequest], stream *connect.ServerStream[holdfastv1.ReadChunksResponse]) error {
	const op = "ReadChunks"
	_, repoID, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActRead)
	if err != nil {
		return toConnect(s.log, op, err)
	}
	ids, err := parseIDs(req.Msg.GetIds(), MaxReadIDs, "ids")
	if err != nil {
		return toConnect(s.log, op, err)
	}
	cs, err := s.repo.NewChunkStream(repoID)
	if err != nil {
		return toConnect(s.log, op, err)
	}
	if req.Msg.GetClientVerifies() {
		cs.TrustCaller()
	}
	ra := s.startReadAhead(ctx, cs, ids)
	defer ra.stop() // before returning: no goroutine outlives the handler
	batch := req.Msg.GetBatch()
	for sent := 0; sent < len(ids); {
		jobs, failed, err := gather(ra, len(ids)-sent, batch)
		if err != nil {
			return toConnect(s.log, op, err)
		}
		if err := s.send(stream, ra, jobs, batch); err != nil {
			return toConnect(s.log, op, err)
		}
		sent += len(jobs)
		if failed != nil {
			return s.chunkError(op, failed.id, failed.err)
		}
	}
	return nil
}

// send sends jobs, in one message each or, with batch, all in one, then
// hands their read buffers back and returns their bytes to the budget:
// Send has marshaled the envelopes into its own buffer (or failed).
func (s *ChunkService) send(stream *connect.ServerStream[holdfastv1.ReadChunksResponse], ra *readAhead, jobs []*readJob, batch bool) error {
	var err error
	switch {
	case len(jobs) == 0:
		return nil
	case batch:
		chunks := make([]*holdfastv1.Chunk, len(jobs))
		for i, j := range jobs {
			chunks[i] = &holdfastv1.Chunk{Id: j.id[:], Envelope: j.env}
		}
		err = stream.Send(&holdfastv1.ReadChunksResponse{Chunks: chunks})
	default:
		for _, j := range jobs {
			if err = stream.Send(&holdfastv1.ReadChunksResponse{Id: j.id[:], Envelope: j.env}); err != nil {
				break
			}
		}
	}
	var n uint64
	for _, j := range jobs {
		n += uint64(len(j.env))
		envbuf.Put(j.env)
		ra.release(j.size)
	}
	if err == nil {
		s.metrics.BytesOut.Add(n)
	}
	return err
}

// batchBytes bounds the envelopes of one batched ReadChunks response;
// a larger envelope goes alone.
const batchBytes = 1 << 20

// gather waits for the next job and, when batch is set, adds the jobs
// after it that are already read, up to batchBytes of envelopes and left
// jobs in all. A job that failed ends the gathering and is returned apart,
// to be reported once the jobs before it are sent.
func gather(ra *readAhead, left int, batch bool) (jobs []*readJob, failed *readJob, err error) {
	j, err := ra.next()
	if err != nil {
		return nil, nil, err
	}
	size := 0
	for {
		if j.err != nil {
			return jobs, j, nil
		}
		jobs = append(jobs, j)
		size += len(j.env)
		if !batch || len(jobs) == left {
			return jobs, nil, nil
		}
		if j = ra.ready(); j == nil || (j.err == nil && size+len(j.env) > batchBytes) {
			return jobs, nil, nil // j, if any, stays first in line
		}
		ra.take()
	}
}

// chunkError maps a per-chunk error and makes sure the message names the
// chunk: the engine's not-found error does, but DataLoss gets a generic
// message from toConnect, which must not carry engine details.
func (s *ChunkService) chunkError(op string, id format.ID, err error) error {
	cerr := toConnect(s.log, op, err)
	var ce *connect.Error
	if errors.As(cerr, &ce) && ce.Code() == connect.CodeDataLoss {
		return connect.NewError(ce.Code(), fmt.Errorf("chunk %s: %s", id.Short(), ce.Message()))
	}
	return cerr
}

// readJob is one chunk on its way to the client.
type readJob struct {
	id   format.ID
	loc  indexkey.ChunkLoc
	size int64 // bytes reserved against ReadAheadBytes
	env  []byte
	err  error
	done chan struct{} // closed when env or err is set
}

// readAhead is one stream's pipeline: a dispatcher walks the IDs in order,
// reserves each chunk's length against the byte budget, and hands it to the
// workers and, in the same order, to the sender (order). The sender waits
// for each job in turn, so completion order does not matter.
type readAhead struct {
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	order    chan *readJob
	inflight atomic.Int64  // reserved bytes not yet sent
	wake     chan struct{} // the sender freed budget
	head     *readJob      // taken from order by ready, not yet sent
}

func (s *ChunkService) startReadAhead(ctx context.Context, cs *repo.ChunkStream, ids []format.ID) *readAhead {
	ctx, cancel := context.WithCancel(ctx)
	ra := &readAhead{
		ctx: ctx, cancel: cancel,
		order: make(chan *readJob, readAheadChunks),
		wake:  make(chan struct{}, 1),
	}
	work := make(chan []*readJob)
	ra.spawn(func() { ra.dispatch(cs, ids, work) })
	for range ReadAheadWorkers {
		ra.spawn(func() {
			for run := range work {
				readRun(ctx, cs, run)
			}
		})
	}
	return ra
}

// readRun reads the chunks of run, which lie side by side in one pack,
// with one span read, and each chunk alone if that fails (or the run is
// a single chunk): ReadAt retries stale locations and names the chunk
// that cannot be read.
func readRun(ctx context.Context, cs *repo.ChunkStream, run []*readJob) {
	var span []byte
	if len(run) > 1 {
		ids := make([]format.ID, len(run))
		locs := make([]indexkey.ChunkLoc, len(run))
		for i, j := range run {
			ids[i], locs[i] = j.id, j.loc
		}
		last := locs[len(locs)-1]
		buf := envbuf.Get(int(last.Offset - locs[0].Offset + uint64(last.Length)))
		var err error
		if span, err = cs.ReadSpan(ctx, ids, locs, buf); err != nil {
			envbuf.Put(buf)
			span = nil
		} else {
			spanReads.Add(1)
		}
	}
	for _, j := range run {
		if span != nil {
			at := j.loc.Offset - run[0].loc.Offset
			j.env = append(envbuf.Get(int(j.loc.Length)), span[at:at+uint64(j.loc.Length)]...)
		} else {
			j.env, j.err = cs.ReadAt(ctx, j.id, j.loc, envbuf.Get(int(j.loc.Length)))
		}
		close(j.done)
	}
	envbuf.Put(span)
}

func (ra *readAhead) spawn(f func()) {
	ra.wg.Add(1)
	readAheadLive.Add(1)
	go func() {
		defer ra.wg.Done()
		defer readAheadLive.Add(-1)
		f()
	}()
}

// Runs of ReadChunks: chunks that lie side by side in one pack (a source
// tree's files, uploaded together) are read with one span read of at most
// runBytes, skipping gaps of at most runGap bytes (chunks left out of the
// request), instead of a store read each.
const (
	runBytes = 1 << 20
	runGap   = 16 << 10
)

// dispatch feeds jobs in request order. It locates each chunk before the
// read, so the budget holds before bytes arrive and the worker reads
// without a second lookup, and it gathers chunks that lie side by side
// into runs. It stops at the first chunk the index lacks: the sender ends
// the stream there.
//
// The sender waits for the jobs of a run that is still being gathered, so
// the dispatcher hands the run to the workers before anything that could
// block: the budget, a full order queue, a chunk that does not join it.
func (ra *readAhead) dispatch(cs *repo.ChunkStream, ids []format.ID, work chan<- []*readJob) {
	defer close(work)
	defer close(ra.order)
	var run []*readJob
	flush := func() bool {
		if len(run) == 0 {
			return true
		}
		select {
		case work <- run:
			run = nil
			return true
		case <-ra.ctx.Done():
			return false
		}
	}
	defer flush()
	for _, id := range ids {
		j := &readJob{id: id, done: make(chan struct{})}
		loc, err := cs.Locate(id)
		if err != nil {
			j.err = err
			close(j.done)
			if flush() {
				ra.queue(j)
			}
			return
		}
		j.loc, j.size = loc, int64(loc.Length)
		if !joins(run, loc) && !flush() {
			return
		}
		if !ra.tryReserve(j.size) && (!flush() || !ra.reserve(j.size)) {
			return
		}
		select {
		case ra.order <- j:
		default:
			if !flush() || !ra.queue(j) {
				return
			}
		}
		run = append(run, j)
	}
}

// joins reports whether a chunk at loc can join run: same pack, after the
// run's last chunk by at most runGap, the span within runBytes.
func joins(run []*readJob, loc indexkey.ChunkLoc) bool {
	if len(run) == 0 {
		return true
	}
	first, last := run[0].loc, run[len(run)-1].loc
	end := last.Offset + uint64(last.Length)
	return loc.Pack == first.Pack && loc.Offset >= end && loc.Offset-end <= runGap &&
		loc.Offset+uint64(loc.Length)-first.Offset <= runBytes
}

// queue puts j in line for the sender, waiting if the line is full.
func (ra *readAhead) queue(j *readJob) bool {
	select {
	case ra.order <- j:
		return true
	case <-ra.ctx.Done():
		return false
	}
}

// tryReserve is reserve without waiting: it reports whether n more bytes
// fit the budget now.
func (ra *readAhead) tryReserve(n int64) bool {
	cur := ra.inflight.Load()
	if cur == 0 || cur+n <= ReadAheadBytes {
		ra.inflight.Add(n)
		return true
	}
	return false
}

// reserve waits until n more bytes fit the budget. A chunk always fits when
// nothing else is in flight, so one larger than the budget cannot stall.
// Only the dispatcher adds, so the check and the add cannot race.
func (ra *readAhead) reserve(n int64) bool {
	for {
		if ra.tryReserve(n) {
			return true
		}
		select {
		case <-ra.wake:
		case <-ra.ctx.Done():
			return false
		}
	}
}

// release returns a sent chunk's bytes to the budget.
func (ra *readAhead) release(n int64) {
	ra.inflight.Add(-n)
	select {
	case ra.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// next returns the next job in request order once it is read.
func (ra *readAhead) next() (*readJob, error) {
	j := ra.head
	ra.head = nil
	if j == nil {
		select {
		case j = <-ra.order:
		case <-ra.ctx.Done():
			return nil, ra.ctx.Err()
		}
		if j == nil { // closed early: only when ctx ended
			return nil, context.Cause(ra.ctx)
		}
	}
	select {
	case <-j.done:
		return j, nil
	case <-ra.ctx.Done():
		return nil, ra.ctx.Err()
	}
}

// ready returns the next job in request order if it is already read, and
// nil if it is not (or none is queued), without waiting. The job stays
// first in line until take (or next) takes it.
func (ra *readAhead) ready() *readJob {
	if ra.head == nil {
		select {
		case j := <-ra.order:
			ra.head = j // nil if closed
		default:
		}
		if ra.head == nil {
			return nil
		}
	}
	select {
	case <-ra.head.done:
		return ra.head
	default:
		return nil
	}
}

// take takes the job that ready returned.
func (ra *readAhead) take() { ra.head = nil }

// stop cancels the workers and waits for them to exit.
func (ra *readAhead) stop() {
	ra.cancel()
	ra.wg.Wait()
}
