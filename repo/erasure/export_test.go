package erasure

import "time"

// SetClock makes c's store health read the time from now.
func SetClock(c *Coder, now func() time.Time) {
	c.health.mu.Lock()
	c.health.now = now
	c.health.mu.Unlock()
	c.reach.mu.Lock()
	c.reach.now = now
	c.reach.mu.Unlock()
}
