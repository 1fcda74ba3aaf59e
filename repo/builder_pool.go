package repo

import (
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/internal/freelist"
)

// builderIdle is how long the builders of landed packs are kept once no
// pack has landed: long enough to span the gaps between the uploads of one
// backup, short enough that an idle server does not hold a hundred
// megabytes of pack buffers for the next one.
const builderIdle = time.Minute

// builderPool keeps the builders of landed packs for reuse, at most
// maxFreeBuilders of them for the whole engine, and drops them all once
// none has been put back for builderIdle (see package freelist).
type builderPool struct {
	list freelist.List[*pack.Builder]
	mu   sync.Mutex
	made int // builders allocated by take, for tests
}

const maxFreeBuilders = MaxPacksInFlight + 1

func newBuilderPool(idle time.Duration) *builderPool {
	return &builderPool{list: freelist.List[*pack.Builder]{Keep: maxFreeBuilders, Idle: idle}}
}

// take returns a kept builder, or a new one whose buffer holds size
// bytes.
func (p *builderPool) take(size int) *pack.Builder {
	if b, ok := p.list.Get(); ok {
		return b
	}
	p.mu.Lock()
	p.made++
	p.mu.Unlock()
	b := pack.NewBuilder()
	b.Reserve(size)
	return b
}

// put keeps b, emptied, for a later take.
func (p *builderPool) put(b *pack.Builder) {
	b.Reset()
	p.list.Put(b)
}

// stop lets the kept builders go (Close).
func (p *builderPool) stop() { p.list.Stop() }
