package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{"": false, "gzip": true, "br, gzip;q=0.8": true, "GZIP": true, "gzip;q=0": false, "deflate": false, "x-gzip": false} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", h)
		if got := acceptsGzip(r); got != want {
			t.Errorf("%q: %v", h, got)
		}
	}
}

func TestGzipCache(t *testing.T) {
	c := newGzipCache(2)
	data := []byte(strings.Repeat(`{"payloadType":"application/vnd.htlog.event+json"}`, 100))
	z := c.get("/tile/entries/000", data, true)
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := io.ReadAll(zr); !bytes.Equal(back, data) || len(z) >= len(data)/4 {
		t.Fatalf("round trip %v, %d bytes from %d", bytes.Equal(back, data), len(z), len(data))
	}
	if again := c.get("/tile/entries/000", []byte("other"), true); !bytes.Equal(again, z) {
		t.Error("an immutable bundle was compressed again")
	}
	c.get("/tile/entries/001", data, true)
	c.get("/tile/entries/002", data, true)
	if _, ok := c.data["/tile/entries/000"]; ok || len(c.data) != 2 {
		t.Errorf("the cache holds %d entries, the oldest still in: %v", len(c.data), ok)
	}
	c.get("/tile/entries/003.p/5", data, false)
	if _, ok := c.data["/tile/entries/003.p/5"]; ok {
		t.Error("a partial bundle was cached")
	}
}
