package tiles

import (
	"fmt"
	"testing"
)

func TestTileCacheBoundedByBytes(t *testing.T) {
	c := newTileCache(1000)
	for i := range 100 {
		c.put(fmt.Sprint(i), make([]byte, 100))
		if c.bytes > 1000 {
			t.Fatalf("after %d puts the cache holds %d bytes, over its 1000", i+1, c.bytes)
		}
		if b, ok := c.get(fmt.Sprint(i)); !ok || len(b) != 100 {
			t.Fatalf("the entry just put is missing")
		}
	}
	sum := 0
	for _, b := range c.m {
		sum += len(b)
	}
	if sum != c.bytes {
		t.Fatalf("counted %d bytes, holds %d", c.bytes, sum)
	}
	c.put("huge", make([]byte, 400)) // over a quarter of the budget: not kept
	if _, ok := c.get("huge"); ok {
		t.Fatal("an entry over a quarter of the budget was cached")
	}
}
