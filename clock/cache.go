package clock

import (
	"sync"
	"time"
)

// CachedSynced returns a Synced that asks fn at most once per ttl and
// answers from the last result in between. The sampler flags every reading
// with the sync state: asked per read, Synced's stat and adjtimex were two
// syscalls per read (100 a second at 50 sensors), on the sensors' own
// goroutines whose stacks then grew to hold them. A change of state shows
// within ttl.
func CachedSynced(fn func() bool, ttl time.Duration) func() bool {
	c := &syncCache{fn: fn, ttl: ttl, now: time.Now}
	return c.synced
}

type syncCache struct {
	fn  func() bool
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	valid bool
	asked time.Time // monotonic reading of the last call of fn
	v     bool
}

func (c *syncCache) synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.valid || now.Sub(c.asked) >= c.ttl || now.Before(c.asked) {
		c.v, c.asked, c.valid = c.fn(), now, true
	}
	return c.v
}
