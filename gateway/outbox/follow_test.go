package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/gateway/store"
	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/mod/sumdb/note"
)

// tiledLog is a fake log read through a real client (tiles and checkpoints
// over HTTP, with a tile cache); it counts the receipts asked for one by
// one.
type tiledLog struct {
	*client.Client
	log     *testonly.FakeLog
	witness note.Signer
	asked   atomic.Int64
}

func newTiledLog(t *testing.T) *tiledLog {
	l := &tiledLog{log: testonly.NewFakeLog(t, "outbox.test/log")}
	w, vkey := testonly.NewWitnessKey(t, "w.test")
	l.witness = w
	policy, err := c2sp.ParsePolicy([]byte("log " + l.log.VKey + "\nwitness w " + vkey + "\nquorum w\n"))
	if err != nil {
		t.Fatal(err)
	}
	l.Client = &client.Client{URL: l.log.URL(t), Policy: policy, Tiles: client.NewTileCache(64)}
	return l
}

// publish serves a cosigned checkpoint of the whole tree.
func (l *tiledLog) publish(t *testing.T) {
	l.log.Serve(l.log.Checkpoint(t, l.log.Size(), l.witness))
}

func (l *tiledLog) Receipt(ctx context.Context, eventID string) (*c2sp.Proof, error) {
	l.asked.Add(1)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	for i, e := range l.log.Entries()[:cp.Size] {
		if string(e) == eventID {
			h, err := l.InclusionProof(ctx, uint64(i), cp)
			if err != nil {
				return nil, err
			}
			return &c2sp.Proof{Index: uint64(i), Hashes: h, Checkpoint: cp.Bytes}, nil
		}
	}
	return nil, errors.New("not found")
}

// TestReceiptsFromTiles: the outbox finds its items among the log's new
// leaves and stores receipts that verify, asks the log only for an item
// logged before its cursor (after AskAfter), stores its cursor, and stores
// nothing from a checkpoint whose tiles do not match its root.
func TestReceiptsFromTiles(t *testing.T) {
	l := newTiledLog(t)
	ms := &memStore{state: map[string]int{}, why: map[string]string{}}
	item := func(i int) store.Work {
		id := fmt.Sprintf("item-%d", i)
		return store.Work{Seq: int64(i + 1), EventID: id, Subject: id, Envelope: []byte(id)}
	}
	// Item 0 was logged before the cursor (a deduplicated resubmission).
	l.log.AppendN("other", 300)
	early := item(0)
	l.log.Append(early.Envelope)
	ms.items, ms.state[early.EventID] = append(ms.items, early), store.Submitted
	ms.cursor, ms.hasCurs = l.log.Size(), true
	// Items 1..5 are logged among 600 other entries; item 6 is not yet.
	for i := 1; i <= 6; i++ {
		w := item(i)
		ms.items, ms.state[w.EventID] = append(ms.items, w), store.Submitted
		if i < 6 {
			l.log.AppendN(fmt.Sprintf("other-%d", i), 120)
			l.log.Append(w.Envelope)
		}
	}
	l.publish(t)
	ob, err := New(Config{Store: ms, Log: l, Policy: l.Policy, AskAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	ob.awaiting.now = func() time.Time { return clock }
	f := &follower{}
	ctx := context.Background()
	if n := ob.followRound(ctx, f); n != 5 {
		t.Fatalf("the first round stored %d receipts, want 5 (items 1-5)", n)
	}
	if l.asked.Load() != 0 {
		t.Fatalf("the log was asked %d times in the first round", l.asked.Load())
	}
	if at, _, _ := ms.Cursor(ctx, cursorName); at != l.log.Size() {
		t.Fatalf("cursor %d, want the tree size %d", at, l.log.Size())
	}
	clock = clock.Add(time.Minute)
	// Items 0 and 6 have waited AskAfter: the log is asked for both, and
	// has item 0.
	if n := ob.followRound(ctx, f); n != 1 || l.asked.Load() != 2 {
		t.Fatalf("the second round stored %d receipts asking %d times, want 1 asking for items 0 and 6", n, l.asked.Load())
	}
	for i := 0; i <= 5; i++ {
		w := item(i)
		if ms.state[w.EventID] != store.Logged {
			t.Fatalf("%s: state %d", w.EventID, ms.state[w.EventID])
		}
		if _, err := client.VerifyProofFile(l.Policy, ms.proofs[w.EventID], w.Envelope); err != nil {
			t.Fatalf("%s: the stored receipt does not verify: %v", w.EventID, err)
		}
	}
	if ms.state["item-6"] != store.Submitted {
		t.Fatal("item 6, not in the log, left the submitted state")
	}
	// Item 6 was asked for a moment ago: not again before AskAfter.
	if ob.followRound(ctx, f); l.asked.Load() != 2 {
		t.Fatalf("the log was asked again at once (%d asks)", l.asked.Load())
	}
	clock = clock.Add(time.Minute)

	// A log whose checkpoint commits to other leaves than its tiles hold.
	fork := l.log.Fork(l.log.Size())
	fork.AppendN("x", 5)
	l.log.Append(item(6).Envelope)
	lie := fork.Checkpoint(t, l.log.Size(), l.witness)
	if !bytes.Contains(lie, []byte(fmt.Sprintf("\n%d\n", l.log.Size()))) {
		t.Fatal("the forged checkpoint is not of the log's size")
	}
	l.log.Serve(lie)
	if n := ob.followRound(ctx, f); n != 0 || ms.state["item-6"] != store.Submitted {
		t.Fatalf("a round on a checkpoint the tiles contradict stored %d receipts", n)
	}
}
