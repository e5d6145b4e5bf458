package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestPregenerated checks request i (numbered from 1, as send numbers them)
// lands at ready[i-1], whichever core made it.
func TestPregenerated(t *testing.T) {
	got := pregenerated(1000, func(i int) ([]byte, error) { return fmt.Appendf(nil, "req %d", i), nil })
	if len(got) != 1000 {
		t.Fatalf("%d requests, want 1000", len(got))
	}
	for k, b := range got {
		if want := fmt.Sprintf("req %d", k+1); string(b) != want {
			t.Fatalf("ready[%d] = %q, want %q", k, b, want)
		}
	}
}

// TestHammerCountsAndRates runs a fake send and checks the report counts
// every request, accepted or not.
func TestHammerCountsAndRates(t *testing.T) {
	send := func(_ context.Context, _, i int) result {
		if i%10 == 0 {
			return result{status: 503}
		}
		return result{status: 202, latency: time.Millisecond}
	}
	rep := hammer(context.Background(), send, 4, 200, 500*time.Millisecond)
	if rep.Sent == 0 || rep.Accepted+rep.Errors["503"] != rep.Sent {
		t.Fatalf("report %+v does not add up", rep)
	}
	if rep.Sent > 150 {
		t.Fatalf("%d requests in 0.5 s at 200/s", rep.Sent)
	}
}
