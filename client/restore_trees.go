package client

import (
	"bytes"
	"context"
	"io"
	"iter"
	"sync"

	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// Listing prefetch bounds (SPEC.md §12.8). Fetching each directory's
// listing when the walk reaches it costs a ReadChunks round trip per
// directory, during which the walk queues no file content; a source tree
// has thousands of directories. So the walk reads a listing a little ahead
// and fetches the listings of the subdirectories it sees there over one
// shared stream, before it descends.
const (
	prefetchLookahead = 256      // entries of one listing read ahead of the walk
	prefetchBytes     = 16 << 20 // plaintext of fetched listings not yet walked
	prefetchMaxTree   = 1 << 20  // a larger listing is streamed when reached
	prefetchQueue     = 4096     // listings queued for the fetch stream
)

// treePrefetcher fetches listings ahead of the restore walk. prefetch and
// take are called by the walker only; a pusher and a collector goroutine
// move the requests through one ChunkReader, in order.
type treePrefetcher struct {
	cr      *ChunkReader
	reqs    chan *treeFetch
	order   chan *treeFetch
	pending map[string]*treeFetch // walker-only
	held    int64                 // walker-only: bytes of pending fetches
	wg      sync.WaitGroup
}

// treeFetch is one listing on its way: its chunks' plaintext, concatenated.
type treeFetch struct {
	exts []tree.Extent
	size int64
	data []byte
	err  error
	done chan struct{}
}

func (r *Repository) newTreePrefetcher(ctx context.Context) *treePrefetcher {
	p := &treePrefetcher{
		cr:      r.NewChunkReader(ctx, ReadOptions{MaxBytes: treeReadAhead, Streams: 1, Openers: 1}),
		reqs:    make(chan *treeFetch, prefetchQueue),
		order:   make(chan *treeFetch, prefetchQueue),
		pending: map[string]*treeFetch{},
	}
	p.wg.Add(2)
	go p.push()
	go p.collect()
	return p
}

// close stops fetching and waits for the goroutines; fetches not taken are
// dropped.
func (p *treePrefetcher) close() {
	close(p.reqs)
	p.cr.Close()
	p.wg.Wait()
}

// prefetchKey names a listing by its extents, lengths included, so that a
// listing is only served to extents that were checked against it.
func prefetchKey(exts []tree.Extent) string {
	b := make([]byte, 0, len(exts)*40)
	for _, x := range exts {
		b = append(b, x.ID[:]...)
		b = append(b, byte(x.Length>>24), byte(x.Length>>16), byte(x.Length>>8), byte(x.Length))
	}
	return string(b)
}

// prefetch starts fetching the listing in exts unless it is large, already
// queued, invalid (the walk reports that when it gets there) or the budget
// is spent.
func (p *treePrefetcher) prefetch(exts []tree.Extent) {
	var size int64
	for _, x := range exts {
		size += int64(x.Length)
	}
	key := prefetchKey(exts)
	if _, dup := p.pending[key]; dup || size > prefetchMaxTree || p.held+size > prefetchBytes ||
		tree.ValidateSubtree(exts) != nil {
		return
	}
	f := &treeFetch{exts: exts, size: size, done: make(chan struct{})}
	select {
	case p.reqs <- f:
		p.pending[key] = f
		p.held += size
	default: // queue full: the walk fetches it itself
	}
}

// take returns the prefetched listing in exts, waiting for it, or nil when
// it was not prefetched.
func (p *treePrefetcher) take(ctx context.Context, exts []tree.Extent) *treeFetch {
	key := prefetchKey(exts)
	f := p.pending[key]
	if f == nil {
		return nil
	}
	delete(p.pending, key)
	p.held -= f.size
	select {
	case <-f.done:
		return f
	case <-ctx.Done():
		return &treeFetch{err: ctx.Err()}
	}
}

func (p *treePrefetcher) push() {
	defer p.wg.Done()
	defer close(p.order)
	defer p.cr.CloseSend()
	for f := range p.reqs {
		p.order <- f // the collector drains it, or fails everything after Close
		for _, x := range f.exts {
			if p.cr.Push(ReadRequest{ID: x.ID, Length: x.Length, Type: seal.TypeTree}) != nil {
				return
			}
		}
	}
}

// collect assembles the chunks of each fetch in order. After a fatal
// reader error every fetch still queued fails with it.
func (p *treePrefetcher) collect() {
	defer p.wg.Done()
	var fatal error
	for f := range p.order {
		for range f.exts {
			if fatal != nil {
				break
			}
			c, err := p.cr.Next()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				fatal = err
				break
			}
			if c.Err != nil && f.err == nil {
				f.err = c.Err
			}
			if f.err == nil {
				f.data = append(f.data, c.Data...)
			}
			c.Release()
		}
		if fatal != nil && f.err == nil {
			f.err = fatal
		}
		close(f.done)
	}
}

// listing returns the entries of the directory in exts: prefetched or
// fetched now, read up to prefetchLookahead entries ahead so that the
// subdirectories' listings are requested before the walk descends.
func (rs *restorer) listing(exts []tree.Extent) iter.Seq2[*tree.Entry, error] {
	src := rs.r.Tree(rs.ctx, exts)
	if f := rs.trees.take(rs.ctx, exts); f != nil {
		src = decodeListing(f)
	}
	if !rs.filter.all() {
		return src // an --include restore reads only a few listings
	}
	return func(yield func(*tree.Entry, error) bool) {
		next, stop := iter.Pull2(src)
		defer stop()
		var buf []*tree.Entry
		var tailErr error
		for eof := false; ; {
			for !eof && len(buf) < prefetchLookahead {
				e, err, ok := next()
				switch {
				case !ok:
					eof = true
				case err != nil:
					tailErr, eof = err, true
				default:
					buf = append(buf, e)
					if e.Type == tree.Dir {
						rs.trees.prefetch(e.Subtree)
					}
				}
			}
			if len(buf) == 0 {
				if tailErr != nil {
					yield(nil, tailErr)
				}
				return
			}
			e := buf[0]
			buf = buf[1:]
			if !yield(e, nil) {
				return
			}
		}
	}
}

// decodeListing decodes a prefetched listing with the same checks as
// Repository.Tree (the chunks were opened and checked as tree chunks of
// their stated lengths by the ChunkReader).
func decodeListing(f *treeFetch) iter.Seq2[*tree.Entry, error] {
	return func(yield func(*tree.Entry, error) bool) {
		if f.err != nil {
			yield(nil, f.err)
			return
		}
		dec := tree.NewDecoder(bytes.NewReader(f.data))
		for {
			e, err := dec.Next()
			if err == io.EOF {
				return
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}
