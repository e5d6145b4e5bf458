// Package promise is htlog's inclusion promise: the log's signed commitment,
// given when it accepts a submission, to publish the entry in a checkpoint
// within its maximum merge delay (as a Certificate Transparency SCT). A
// monitor holds the log to it (monitor/promise.go). The format is htlog's
// own, a signed note by the log's key whose first line is not an origin.
package promise

import (
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/htlog/htlog/c2sp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Header is the first line of an htlog inclusion promise. Because it
// is not an origin, no checkpoint verifier can mistake a promise for a
// checkpoint signed by the same key.
const Header = "htlog promise v1"

// Promise is a log's signed commitment, given when a submission is accepted
// asynchronously, to include the entry with LeafHash in a published
// checkpoint within MaxMergeDelay of Timestamp. It is a signed note by the
// log's key:
//
//	htlog promise v1
//	<origin>
//	<event id>
//	<base64 leaf hash>
//	<unix seconds>
//	<max merge delay in seconds>
type Promise struct {
	Origin        string
	EventID       string
	LeafHash      c2sp.Hash
	Timestamp     time.Time
	MaxMergeDelay time.Duration
}

// Text returns the note text of the promise.
func (p Promise) Text() string {
	return fmt.Sprintf("%s\n%s\n%s\n%s\n%d\n%d\n", Header, p.Origin, p.EventID,
		base64.StdEncoding.EncodeToString(p.LeafHash[:]), p.Timestamp.Unix(), int64(p.MaxMergeDelay.Seconds()))
}

// Sign returns the promise signed by the log's signer.
func (p Promise) Sign(signer note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: p.Text()}, signer)
}

// Open verifies a signed promise with the log's verifier and parses it.
func Open(signed []byte, log note.Verifier) (*Promise, error) {
	if len(signed) > c2sp.MaxCheckpointSize {
		return nil, errors.New("promise is too large")
	}
	n, err := note.Open(signed, note.VerifierList(log))
	if err != nil {
		return nil, fmt.Errorf("couldn't verify the promise: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 7 || lines[6] != "" || lines[0] != Header {
		return nil, errors.New("not an htlog promise")
	}
	p := &Promise{Origin: lines[1], EventID: lines[2]}
	if p.Origin != log.Name() {
		return nil, fmt.Errorf("promise origin %q is not the log's %q", p.Origin, log.Name())
	}
	h, err := base64.StdEncoding.DecodeString(lines[3])
	if err != nil || len(h) != c2sp.HashSize {
		return nil, errors.New("promise leaf hash is malformed")
	}
	copy(p.LeafHash[:], h)
	ts, err1 := strconv.ParseInt(lines[4], 10, 64)
	mmd, err2 := strconv.ParseInt(lines[5], 10, 64)
	if err1 != nil || err2 != nil || ts < 0 || mmd < 0 {
		return nil, errors.New("promise timestamp or delay is malformed")
	}
	p.Timestamp, p.MaxMergeDelay = time.Unix(ts, 0), time.Duration(mmd)*time.Second
	return p, nil
}
