package tiles

import "sync"

// tileCache keeps immutable (full) tiles and bundles, up to max bytes; when
// full it drops an arbitrary half of its entries, which is enough for a
// cache whose misses cost one query.
type tileCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	m     map[string][]byte
}

func newTileCache(maxBytes int) *tileCache { return &tileCache{max: maxBytes, m: map[string][]byte{}} }

func (c *tileCache) get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *tileCache) put(k string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok || len(b) > c.max/4 {
		return
	}
	if c.bytes+len(b) > c.max {
		n := len(c.m) / 2
		for key, v := range c.m {
			if n == 0 {
				break
			}
			delete(c.m, key)
			c.bytes -= len(v)
			n--
		}
	}
	c.m[k] = b
	c.bytes += len(b)
}
