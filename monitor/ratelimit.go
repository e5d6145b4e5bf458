package monitor

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientLimiter rate-limits requests per client IP address (the connection's
// peer: behind a reverse proxy every client shares the proxy's budget). A
// client whose bucket has refilled is forgotten, so the map holds only the
// clients active in the last burst/limit seconds.
type clientLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newClientLimiter(limit rate.Limit, burst int) *clientLimiter {
	return &clientLimiter{limit: limit, burst: burst, clients: map[string]*rate.Limiter{}}
}

// wait returns 0 if the request may go ahead, else how long the client
// should wait before it tries again.
func (c *clientLimiter) wait(r *http.Request, now time.Time) time.Duration {
	if c.limit == rate.Inf {
		return 0
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.clients) >= 1024 {
		for k, l := range c.clients {
			if l.TokensAt(now) >= float64(c.burst) {
				delete(c.clients, k)
			}
		}
	}
	l := c.clients[ip]
	if l == nil {
		l = rate.NewLimiter(c.limit, c.burst)
		c.clients[ip] = l
	}
	if l.AllowN(now, 1) {
		return 0
	}
	return time.Duration(math.Ceil((1 - l.TokensAt(now)) / float64(c.limit) * float64(time.Second)))
}
