package erasure

import "time"

// SetClock makes c's store health read the time from now.
func SetClock(c *Coder, now func() time.Time) {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	c.health.now = now
}
