package mem

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// SetRetention implements [backend.Retainer] by recording the retention. Like
// S3 it refuses a missing object and shortening a compliance retention.
func (b *Backend) SetRetention(ctx context.Context, name backend.Name, mode backend.RetentionMode, until time.Time) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: set retention %s: %w", name, err)
	}
	if mode != backend.RetentionGovernance && mode != backend.RetentionCompliance {
		return fmt.Errorf("mem: set retention %s: unknown mode %q", name, mode)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[name]; !ok {
		return fmt.Errorf("mem: set retention %s: %w", name, backend.ErrNotExist)
	}
	old, ok := b.retention[name]
	if ok && old.Mode == backend.RetentionCompliance && b.now().Before(old.Until) &&
		(mode != backend.RetentionCompliance || until.Before(old.Until)) {
		return fmt.Errorf("mem: set retention %s: would shorten or weaken a compliance retention: %w",
			name, backend.ErrPermission)
	}
	b.retention[name] = Retention{Mode: mode, Until: until}
	return nil
}

// Retention returns the retention last set on name, if any.
func (b *Backend) Retention(name backend.Name) (Retention, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r, ok := b.retention[name]
	return r, ok
}
