package tiles

import "sync"

// tileCache keeps immutable (full) tiles and bundles; when full it drops an
// arbitrary half, which is enough for a cache whose misses cost one query.
type tileCache struct {
	mu  sync.Mutex
	max int
	m   map[string][]byte
}

func newTileCache(max int) *tileCache { return &tileCache{max: max, m: map[string][]byte{}} }

func (c *tileCache) get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *tileCache) put(k string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		n := 0
		for key := range c.m {
			delete(c.m, key)
			if n++; n >= c.max/2 {
				break
			}
		}
	}
	c.m[k] = b
}
