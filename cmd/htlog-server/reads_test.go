package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
)

// TestEntryBundlesGzipped: a client that accepts gzip gets entry bundles
// compressed (the same bytes once decompressed, a fraction of the size);
// one that does not gets them as they are.
func TestEntryBundlesGzipped(t *testing.T) {
	s := startStack(t)
	for i := range 20 {
		body := testonly.FreshTags(testonly.Example(t, "access", "valid-routine-read.json"))
		if code, msg, _ := post(t, s, "/add-event?async=1", s.Envelope(t, "access", body, testonly.Minute(-time.Duration(i)*time.Minute))); code != http.StatusAccepted {
			t.Fatalf("%d %s", code, msg)
		}
	}
	waitForSize(t, s, 20)
	get := func(enc string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", s.URL+"/tile/entries/000.p/20", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	plainResp, plain := get("")
	zResp, z := get("gzip")
	if plainResp.StatusCode != 200 || plainResp.Header.Get("Content-Encoding") != "" || zResp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("encodings %q and %q", plainResp.Header.Get("Content-Encoding"), zResp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(zr)
	if !bytes.Equal(back, plain) || len(z) >= len(plain)/2 {
		t.Fatalf("gzip gave %d bytes for %d (same content: %v)", len(z), len(plain), bytes.Equal(back, plain))
	}
	t.Logf("a 20-entry bundle: %d bytes, %d gzipped", len(plain), len(z))
}
