package monitor_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/time/rate"
)

// junkVariant returns signed with n signature lines of unknown keys added:
// a byte-distinct copy anyone can make of a valid checkpoint.
func junkVariant(signed []byte, n int) []byte {
	out := bytes.Clone(signed)
	for range n {
		sig := make([]byte, 68)
		rand.Read(sig)
		out = append(out, "— junk"+rand.Text()[:8]+".example "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
	}
	return out
}

// TestPollinateStoresOneRow: 2,000 byte-distinct variants of one valid
// checkpoint (junk signature lines of unknown keys, as issue 18 posted)
// leave one row with only the verified signatures; a witness's cosignature
// heard later is merged into it.
func TestPollinateStoresOneRow(t *testing.T) {
	for name, newStore := range map[string]func(*testing.T) store.Store{
		"mem":   func(*testing.T) store.Store { return store.NewMem() },
		"mysql": mysqlStore,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t), func(c *monitor.Config) { c.PollinateLimit = rate.Inf })
			w1, w1vkey := testonly.NewWitnessKey(t, "w1.example")
			w2, w2vkey := testonly.NewWitnessKey(t, "w2.example")
			e.withPolicy(t, "witness w1 "+w1vkey+"\nwitness w2 "+w2vkey+"\ngroup g any w1 w2\nquorum g\n")
			e.appendAccesses(t, 3)
			url := e.server(t)
			cp := e.log.Checkpoint(t, 3, w1)
			for i := range 2000 {
				if code, body := post(t, url+"/pollinate", junkVariant(cp, 1+i%5)); code != 200 {
					t.Fatalf("variant %d: %d %s", i, code, body)
				}
			}
			cps, err := e.st.CheckpointsAtSize(e.ctx, 3)
			if err != nil || len(cps) != 1 {
				t.Fatalf("%d rows after 2,000 variants, want 1 (%v)", len(cps), err)
			}
			if !bytes.Equal(cps[0].Note, cp) || strings.Join(cps[0].Cosigners, ",") != "w1" {
				t.Fatalf("stored %q cosigned by %v, want the checkpoint as signed", cps[0].Note, cps[0].Cosigners)
			}
			// w2's cosignature (of the same body) is merged into the row.
			n, err := note.Open(cp, note.VerifierList(e.log.Verifier))
			if err != nil {
				t.Fatal(err)
			}
			both, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, w2)
			if err != nil {
				t.Fatal(err)
			}
			if code, body := post(t, url+"/pollinate", junkVariant(both, 3)); code != 200 {
				t.Fatalf("w2's copy: %d %s", code, body)
			}
			cps, _ = e.st.CheckpointsAtSize(e.ctx, 3)
			if len(cps) != 1 || strings.Join(cps[0].Cosigners, ",") != "w1,w2" || bytes.Count(cps[0].Note, []byte("\n— ")) != 3 ||
				bytes.Contains(cps[0].Note, []byte("junk")) {
				t.Fatalf("after w2's copy: %d rows, %v, %q", len(cps), cps[0].Cosigners, cps[0].Note)
			}
			// A body with more than 64 signature lines is refused unread.
			if code, _ := post(t, url+"/pollinate", junkVariant(cp, 64)); code != 400 {
				t.Fatalf("65 signature lines: %d, want 400", code)
			}
		})
	}
}

// TestPollinateRateLimit: past its burst a client gets 429 with
// Retry-After (TestClientLimiter: other addresses are not affected).
func TestPollinateRateLimit(t *testing.T) {
	e := newEnv(t, store.NewMem(), func(c *monitor.Config) { c.PollinateLimit, c.PollinateBurst = 0.5, 5 })
	e.appendAccesses(t, 3)
	url := e.server(t)
	cp := e.log.Checkpoint(t, 3)
	var codes []int
	for range 8 {
		resp, err := http.Post(url+"/pollinate", "text/plain", bytes.NewReader(cp))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 429 429 429]" {
		t.Fatalf("statuses %v, want 5 accepted then 429", codes)
	}
}
