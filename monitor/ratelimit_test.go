package monitor

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// TestClientLimiter: each address has its own bucket; a refilled bucket is
// forgotten once many clients are tracked.
func TestClientLimiter(t *testing.T) {
	c := newClientLimiter(1, 2)
	now := time.Now()
	from := func(addr string) time.Duration {
		r := httptest.NewRequest("POST", "/pollinate", nil)
		r.RemoteAddr = addr
		return c.wait(r, now)
	}
	if from("192.0.2.1:1000") != 0 || from("192.0.2.1:1001") != 0 {
		t.Fatal("within the burst: refused")
	}
	if d := from("192.0.2.1:1002"); d <= 0 || d > time.Second {
		t.Fatalf("over the burst: wait %v, want (0, 1s]", d)
	}
	if from("[2001:db8::1]:1000") != 0 {
		t.Fatal("another address shares the bucket")
	}
	for i := range 1100 {
		from(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
	}
	now = now.Add(10 * time.Second) // every bucket has refilled
	from("203.0.113.1:1")
	c.mu.Lock()
	n := len(c.clients)
	c.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d clients tracked after the others went quiet, want 1", n)
	}
}
