package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	dclient "github.com/docker/docker/client"
)

// engineTimeout bounds one pause or unpause call. They run on a context
// detached from the caller's, so a cancelled backup cannot leave a
// container paused.
const engineTimeout = time.Minute

// Paused are the containers one Pause call paused; Resume unpauses them.
type Paused struct {
	c    *Client
	mu   sync.Mutex
	held []Container
}

// Pause pauses each container in turn. If one fails, those already paused
// are unpaused again and the error says which failed. A call whose answer
// was lost (timeout, broken connection) may still have paused its
// container, so that one is unpaused too; one the engine refused (say, a
// container someone else paused) is left alone.
func (c *Client) Pause(ctx context.Context, cs []Container) (*Paused, error) {
	p := &Paused{c: c}
	for _, ct := range cs {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(err, p.Resume())
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineTimeout)
		err := c.api.ContainerPause(pctx, ct.ID)
		cancel()
		if err == nil || unknownOutcome(err) {
			p.held = append(p.held, ct)
		}
		if err != nil {
			return nil, errors.Join(apiErr("pause container "+quote(ct.Name), err), p.Resume())
		}
	}
	return p, nil
}

// Held lists the containers still paused.
func (p *Paused) Held() []Container {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Container(nil), p.held...)
}

// Resume unpauses every container Pause paused, each with a fresh context
// and a timeout, and reports every failure. It may be called more than
// once; later calls do nothing.
func (p *Paused) Resume() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	var errs []error
	for _, ct := range held {
		ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
		err := p.c.api.ContainerUnpause(ctx, ct.ID)
		cancel()
		if err != nil && !notPaused(err) {
			errs = append(errs, fmt.Errorf("unpause container %s: %w (run: docker unpause %s)", quote(ct.Name), err, ct.Name))
		}
	}
	return errors.Join(errs...)
}

// unknownOutcome reports whether a failed call may still have taken
// effect: the engine's answer did not arrive.
func unknownOutcome(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || dclient.IsErrConnectionFailed(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// notPaused reports the engine's refusal to unpause a container that is
// not paused (it has no typed error for it): nothing is left to undo.
func notPaused(err error) bool { return strings.Contains(err.Error(), "is not paused") }
