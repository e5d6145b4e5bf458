package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/splitview"
	"golang.org/x/mod/sumdb/note"
)

// The examples build their own log and witnesses from the public packages
// alone (c2sp and x/mod's note), as a hospital's own tests can.

// demoLog is a log in memory: its key, its entries and what it serves.
type demoLog struct {
	origin  string
	signer  note.Signer
	vkey    string
	entries [][]byte

	mu     sync.Mutex
	served []byte            // the checkpoint at /checkpoint
	tiles  map[string][]byte // the hash tiles of the served tree
}

// newDemoLog makes a log with a fresh key.
func newDemoLog(origin string) *demoLog {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	return &demoLog{origin: origin, signer: signer, vkey: vkey}
}

// fork returns a log with the same key whose history keeps the first n
// entries and then goes its own way: what a misbehaving log shows some.
func (l *demoLog) fork(n int) *demoLog {
	return &demoLog{origin: l.origin, signer: l.signer, vkey: l.vkey, entries: append([][]byte(nil), l.entries[:n]...)}
}

// add appends n entries.
func (l *demoLog) add(n int, prefix string) {
	for range n {
		l.entries = append(l.entries, fmt.Appendf(nil, "%s %d", prefix, len(l.entries)))
	}
}

func (l *demoLog) leafHashes(size uint64) []c2sp.Hash {
	hs := make([]c2sp.Hash, size)
	for i := range hs {
		hs[i] = c2sp.LeafHash(l.entries[i])
	}
	return hs
}

// checkpoint signs the tree of the first size entries, cosigned by witnesses.
func (l *demoLog) checkpoint(size uint64, witnesses ...note.Signer) []byte {
	body := c2sp.Checkpoint{Origin: l.origin, Size: size, Hash: c2sp.RootFromLeafHashes(l.leafHashes(size))}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, append([]note.Signer{l.signer}, witnesses...)...)
	if err != nil {
		log.Fatal(err)
	}
	return signed
}

// receipt is the tlog-proof of entry index in the tree of the first size
// entries, under checkpoint.
func (l *demoLog) receipt(index, size uint64, checkpoint []byte) []byte {
	tiles, err := c2sp.TileHashes(l.leafHashes(size))
	if err != nil {
		log.Fatal(err)
	}
	hashes, err := c2sp.InclusionProofFromTiles(context.Background(), func(_ context.Context, path string) ([]byte, error) {
		return tiles[path], nil
	}, index, size, c2sp.RootFromLeafHashes(l.leafHashes(size)))
	if err != nil {
		log.Fatal(err)
	}
	return c2sp.Proof{Index: index, Hashes: hashes, Checkpoint: checkpoint}.Marshal()
}

// publish serves a checkpoint of every entry, cosigned by witnesses, and
// the tree's hash tiles (what a Keeper reads).
func (l *demoLog) publish(witnesses ...note.Signer) {
	tiles, err := c2sp.TileHashes(l.leafHashes(uint64(len(l.entries))))
	if err != nil {
		log.Fatal(err)
	}
	cp := l.checkpoint(uint64(len(l.entries)), witnesses...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.served, l.tiles = cp, tiles
}

func (l *demoLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/")
	if path == "checkpoint" {
		w.Write(l.served)
	} else if t, ok := l.tiles[path]; ok {
		w.Write(t)
	} else {
		http.NotFound(w, r)
	}
}

// newWitness makes a witness key: its cosigner and its vkey.
func newWitness(name string) (note.Signer, string) {
	skey, vkey, err := c2sp.GenerateWitnessKey(name, c2sp.WitnessAlgEd25519)
	if err != nil {
		log.Fatal(err)
	}
	s, err := c2sp.NewCosigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	return s, vkey
}

// demoPolicy makes three witnesses and the policy "the log, cosigned by two
// of them".
func demoPolicy(l *demoLog) (*c2sp.Policy, []note.Signer) {
	text := "log " + l.vkey + "\n"
	var witnesses []note.Signer
	for i := range 3 {
		s, vkey := newWitness(fmt.Sprintf("w%d.example", i))
		witnesses = append(witnesses, s)
		text += fmt.Sprintf("witness w%d %s\n", i, vkey)
	}
	text += "group two-of-three 2 w0 w1 w2\nquorum two-of-three\n"
	policy, err := c2sp.ParsePolicy([]byte(text))
	if err != nil {
		log.Fatal(err)
	}
	return policy, witnesses
}

// A checkpoint counts only when the log signed it and the witness quorum
// of the policy cosigned it.
func ExampleVerifyCheckpoint() {
	l := newDemoLog("example.org/log")
	policy, w := demoPolicy(l)
	l.add(5, "entry")

	cp, err := client.VerifyCheckpoint(policy, "example.org/log", l.checkpoint(5, w[0], w[2]))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s at size %d, cosigned by %v\n", cp.Origin, cp.Size, cp.Witnesses)

	_, err = client.VerifyCheckpoint(policy, "example.org/log", l.checkpoint(5, w[1]))
	fmt.Println("one cosignature:", errors.Is(err, c2sp.ErrQuorumNotMet))

	other := newDemoLog("example.org/log") // same name, another key
	other.add(5, "entry")
	_, err = client.VerifyCheckpoint(policy, "", other.checkpoint(5, w...))
	fmt.Println("another key:", errors.Is(err, client.ErrNotVerified))
	// Output:
	// example.org/log at size 5, cosigned by [w0 w2]
	// one cosignature: true
	// another key: true
}

// A receipt verifies offline with the policy and the entry alone.
func ExampleVerifyProofFile() {
	l := newDemoLog("example.org/log")
	policy, w := demoPolicy(l)
	l.add(8, "entry")
	receipt := l.receipt(3, 8, l.checkpoint(8, w[0], w[2]))

	res, err := client.VerifyProofFile(policy, receipt, l.entries[3])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry %d of %s, tree size %d, vouched for by %s\n", res.Index, res.Checkpoint.Origin, res.Checkpoint.Size, strings.Join(res.Checkpoint.Witnesses, " and "))

	_, err = client.VerifyProofFile(policy, receipt, l.entries[4])
	fmt.Println("another entry verifies:", err == nil, errors.Is(err, client.ErrNotVerified))
	// Output:
	// entry 3 of example.org/log, tree size 8, vouched for by w0 and w2
	// another entry verifies: false true
}

// A Keeper follows the log and proves every new checkpoint consistent with
// the last one it verified; a log that rewrites its history is caught with
// evidence anyone can check.
func ExampleKeeper() {
	l := newDemoLog("example.org/log")
	policy, w := demoPolicy(l)
	srv := httptest.NewServer(l)
	defer srv.Close()

	c := &client.Client{URL: srv.URL, Policy: policy}
	k, err := client.NewKeeper(c, "") // or a file, to remember across runs
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range []int{3, 300} {
		l.add(n, "entry")
		l.publish(w[0], w[1])
		cp, err := k.Update(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("verified size", cp.Size)
	}

	// The log later serves another history, signed with the same key.
	fork := l.fork(100)
	fork.add(300, "rewritten")
	fork.publish(w[0], w[1])
	forkSrv := httptest.NewServer(fork)
	defer forkSrv.Close()
	k2, _ := client.NewKeeper(&client.Client{URL: forkSrv.URL, Policy: policy}, "")
	k2.Advance(context.Background(), k.Latest().Bytes) // what the first keeper verified
	_, err = k2.Update(context.Background())
	var split *client.ForkError
	if errors.As(err, &split) {
		logKey, _ := note.NewVerifier(l.vkey)
		_, _, verr := splitview.Verify(split.Evidence, logKey)
		fmt.Println("split view; evidence verifies:", verr == nil)
	}
	// Output:
	// verified size 3
	// verified size 303
	// split view; evidence verifies: true
}

// A hospital signs an event and submits it; the receipt it gets back has
// been verified against its policy. (Not run: it needs a log.)
func ExampleClient_Submit() {
	policyText, _ := os.ReadFile("policy.txt")
	policy, err := c2sp.ParsePolicy(policyText)
	if err != nil {
		log.Fatal(err)
	}
	keyPEM, _ := os.ReadFile("hospital.key")
	key, err := event.ParsePrivateKey(keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	b, err := event.NewBuilder("npi:1234567893", key)
	if err != nil {
		log.Fatal(err)
	}
	bodyJSON, _ := os.ReadFile("access-body.json") // schemas/access/v2.json; the patient as b.PatientTag(patientKey)
	env, err := b.Build(event.Draft{Kind: "access", Body: bodyJSON})
	if err != nil {
		log.Fatal(err)
	}
	c := &client.Client{URL: "https://log.example.org", Policy: policy}
	receipt, err := c.Submit(context.Background(), env.Marshal())
	var refused *client.HTTPError
	if errors.As(err, &refused) {
		log.Fatalf("the log refused the event: %s", refused.Reason)
	} else if err != nil {
		log.Fatal(err)
	}
	os.WriteFile(strings.TrimPrefix(env.ID(), "sha256:")+".tlog-proof", receipt.Marshal(), 0o644)
}
