package repo

import (
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/format/pack"
)

// builderIdle is how long the builders of landed packs are kept once no
// pack has landed: long enough to span the gaps between the uploads of one
// backup, short enough that an idle server does not hold a hundred
// megabytes of pack buffers for the next one.
const builderIdle = time.Minute

// builderPool keeps the builders of landed packs for reuse, at most
// maxFreeBuilders of them for the whole engine, and drops them all once
// none has been put back for builderIdle (idleAfter in tests).
type builderPool struct {
	mu        sync.Mutex
	free      []*pack.Builder
	idle      *time.Timer
	idleAfter time.Duration // 0: builderIdle
	made      int           // builders allocated by take, for tests
}

const maxFreeBuilders = MaxPacksInFlight + 1

func (p *builderPool) get() *pack.Builder {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return nil
}

// take returns a kept builder, or a new one whose buffer holds size
// bytes.
func (p *builderPool) take(size int) *pack.Builder {
	if b := p.get(); b != nil {
		return b
	}
	p.mu.Lock()
	p.made++
	p.mu.Unlock()
	b := pack.NewBuilder()
	b.Reserve(size)
	return b
}

func (p *builderPool) put(b *pack.Builder) {
	b.Reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < maxFreeBuilders {
		p.free = append(p.free, b)
	}
	after := p.idleAfter
	if after == 0 {
		after = builderIdle
	}
	if p.idle == nil {
		p.idle = time.AfterFunc(after, p.drop)
	} else {
		p.idle.Reset(after)
	}
}

// drop lets the garbage collector have the kept builders.
func (p *builderPool) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.free)
	p.free = p.free[:0]
}

// stop cancels the idle timer (Close).
func (p *builderPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle != nil {
		p.idle.Stop()
	}
	clear(p.free)
	p.free = nil
}
