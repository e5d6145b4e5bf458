package server

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// gzipCache holds the gzip encodings of full entry bundles, which are
// immutable: each is compressed once, not on every request. It is bounded
// (oldest out first) and safe for concurrent use.
type gzipCache struct {
	mu    sync.Mutex
	max   int
	data  map[string][]byte
	order []string
}

func newGzipCache(max int) *gzipCache { return &gzipCache{max: max, data: map[string][]byte{}} }

// get returns the gzip encoding of data, the content at path; immutable
// content is remembered.
func (c *gzipCache) get(path string, data []byte, immutable bool) []byte {
	if immutable {
		c.mu.Lock()
		b, ok := c.data[path]
		c.mu.Unlock()
		if ok {
			return b
		}
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(data)
	zw.Close()
	b := buf.Bytes()
	if immutable {
		c.mu.Lock()
		if _, ok := c.data[path]; !ok {
			c.data[path] = b
			c.order = append(c.order, path)
			if len(c.order) > c.max {
				delete(c.data, c.order[0])
				c.order = c.order[1:]
			}
		}
		c.mu.Unlock()
	}
	return b
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
