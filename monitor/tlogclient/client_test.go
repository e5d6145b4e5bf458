package tlogclient_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/tlogclient"
)

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "htlog-monitor" {
			w.WriteHeader(400)
			return
		}
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "12345")
		case "/big":
			io.WriteString(w, "123456")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := tlogclient.New(srv.URL+"/", srv.Client())
	ctx := context.Background()
	if b, err := c.Get(ctx, srv.URL+"/ok", 5); err != nil || string(b) != "12345" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	// A body over the limit is the server's garbage, not a fetch failure.
	if _, err := c.Get(ctx, srv.URL+"/big", 5); err == nil || tlogclient.IsFetchError(err) {
		t.Fatalf("oversized body: %v", err)
	}
	var fe *tlogclient.FetchError
	if _, err := c.Get(ctx, srv.URL+"/missing", 5); !errors.As(err, &fe) || fe.Status != 404 || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("404: %v", err)
	}
	srv.Close()
	if _, err := c.Get(ctx, srv.URL+"/ok", 5); !errors.As(err, &fe) || fe.Status != 0 || fe.Unwrap() == nil {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestReadsTheLog(t *testing.T) {
	l := testonly.NewFakeLog(t, "example.com/log")
	l.AppendN("e", 300)
	c := tlogclient.New(l.URL(t), http.DefaultClient)
	ctx := context.Background()
	signed, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c2sp.OpenCheckpoint(signed, l.Verifier)
	if err != nil || sc.Size != 300 {
		t.Fatalf("checkpoint: %v", err)
	}
	full, err := c.Bundle(ctx, 0, c2sp.TileWidth)
	if err != nil || len(full) != c2sp.TileWidth || string(full[7]) != string(l.Entries()[7]) {
		t.Fatalf("full bundle: %d entries, %v", len(full), err)
	}
	partial, err := c.Bundle(ctx, 1, 300-c2sp.TileWidth)
	if err != nil || len(partial) != 300-c2sp.TileWidth {
		t.Fatalf("partial bundle: %v", err)
	}
	p, err := c2sp.ConsistencyProofFromTiles(ctx, c.Fetcher(), 100, 300, sc.Hash)
	if err != nil || c2sp.VerifyConsistency(100, 300, l.Root(100), sc.Hash, p) != nil {
		t.Fatalf("consistency proof from tiles: %v", err)
	}
}

func TestBundleGarbage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "\x00\x05ab") // claims 5 bytes, holds 2
	}))
	defer srv.Close()
	c := tlogclient.New(srv.URL, srv.Client())
	if _, err := c.Bundle(context.Background(), 0, 1); err == nil || tlogclient.IsFetchError(err) {
		t.Fatalf("garbage bundle: %v, want a non-fetch error", err)
	}
}

func TestWitnessCheckpointAndPollinate(t *testing.T) {
	const origin = "example.com/log"
	sum := sha256.Sum256([]byte(origin))
	if got := tlogclient.MonitoringPath(origin); got != "/"+hex.EncodeToString(sum[:])+"/checkpoint" {
		t.Fatalf("MonitoringPath = %q", got)
	}
	var posted []byte
	var contentType string
	code := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == tlogclient.MonitoringPath(origin):
			io.WriteString(w, "checkpoint text")
		case r.Method == http.MethodPost && r.URL.Path == "/pollinate":
			posted, _ = io.ReadAll(r.Body)
			contentType = r.Header.Get("Content-Type")
			w.WriteHeader(code)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := tlogclient.New("http://unused", srv.Client())
	ctx := context.Background()
	if b, err := c.WitnessCheckpoint(ctx, srv.URL+"/", origin); err != nil || string(b) != "checkpoint text" {
		t.Fatalf("WitnessCheckpoint = %q, %v", b, err)
	}
	if _, err := c.WitnessCheckpoint(ctx, srv.URL, "other.example/log"); !tlogclient.IsFetchError(err) {
		t.Fatalf("unknown origin: %v", err)
	}
	if err := c.Pollinate(ctx, srv.URL+"/", []byte("signed")); err != nil || string(posted) != "signed" || contentType != c2sp.ContentTypeCheckpoint {
		t.Fatalf("Pollinate: %v, posted %q as %q", err, posted, contentType)
	}
	code = 409
	if err := c.Pollinate(ctx, srv.URL, []byte("signed")); !errors.Is(err, tlogclient.ErrSplitView) || tlogclient.IsFetchError(err) {
		t.Fatalf("409: %v", err)
	}
	code = 503
	var fe *tlogclient.FetchError
	if err := c.Pollinate(ctx, srv.URL, []byte("signed")); !errors.As(err, &fe) || fe.Status != 503 {
		t.Fatalf("503: %v", err)
	}
}
