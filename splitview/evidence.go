// Package splitview is htlog's split-view evidence: two checkpoints signed
// by one log key that cannot both be true, with the consistency path that
// shows it, in a bundle anyone can check with the log's public key alone
// (htlog verify-evidence, monitors, witnesses). The format is htlog's own;
// the checkpoints and hashes in it are C2SP's (package c2sp).
package splitview

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/note"
)

// Header is the first line of a split-view evidence bundle.
const Header = "htlog.dev/split-view-evidence/v1"

// MaxSize bounds an evidence bundle.
const MaxSize = 2*c2sp.MaxCheckpointSize + 8*1024

// Evidence shows that a log signed two checkpoints that cannot both be true.
// First is the smaller (or equal) size. With different sizes m < n, Proof is
// a consistency path from m to n taken from the log's own data for the larger
// tree, with the hash of the tree [0, m) prepended when m is a power of two,
// so that c2sp.ConsistencyRoots yields both roots from the proof alone: it must
// yield Second's root, and a root for size m that differs from First's. With
// equal sizes the roots differ and Proof is empty.
type Evidence struct {
	First, Second []byte
	Proof         []c2sp.Hash
}

// ID names the evidence: hex SHA-256 of its encoding.
func (e Evidence) ID() string {
	sum := sha256.Sum256(e.Marshal())
	return hex.EncodeToString(sum[:])
}

// Marshal encodes the evidence bundle.
func (e Evidence) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(Header + "\n")
	for _, cp := range [][]byte{e.First, e.Second} {
		b.WriteString("checkpoint " + strconv.Itoa(len(cp)) + "\n")
		b.Write(cp)
	}
	b.WriteString("proof " + strconv.Itoa(len(e.Proof)) + "\n")
	for _, h := range e.Proof {
		b.WriteString(h.String() + "\n")
	}
	return b.Bytes()
}

// Parse parses an evidence bundle without verifying it.
func Parse(data []byte) (*Evidence, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("evidence is %d bytes, at most %d allowed", len(data), MaxSize)
	}
	line := func(prefix string) (string, error) {
		l, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok || !bytes.HasPrefix(l, []byte(prefix)) {
			return "", fmt.Errorf("evidence: want a %q line", prefix)
		}
		data = rest
		return string(l[len(prefix):]), nil
	}
	if header, err := line(Header); err != nil || header != "" {
		return nil, fmt.Errorf("evidence must start with the line %q", Header)
	}
	e := &Evidence{}
	for _, dst := range []*[]byte{&e.First, &e.Second} {
		n, err := line("checkpoint ")
		if err != nil {
			return nil, err
		}
		size, err := c2sp.ParseDecimal(n)
		if err != nil || size > c2sp.MaxCheckpointSize || size > uint64(len(data)) {
			return nil, fmt.Errorf("evidence: bad checkpoint length %q", n)
		}
		*dst, data = data[:size:size], data[size:]
	}
	n, err := line("proof ")
	if err != nil {
		return nil, err
	}
	k, err := c2sp.ParseDecimal(n)
	if err != nil || k > 65 {
		return nil, fmt.Errorf("evidence: bad proof length %q", n)
	}
	for i := uint64(0); i < k; i++ {
		l, err := line("")
		if err != nil {
			return nil, err
		}
		h, err := c2sp.ParseHash(l)
		if err != nil {
			return nil, fmt.Errorf("evidence proof line %d: %w", i+1, err)
		}
		e.Proof = append(e.Proof, h)
	}
	if len(data) != 0 {
		return nil, errors.New("evidence: trailing data")
	}
	return e, nil
}

// Verify checks that the evidence proves a split view of the log
// whose key is logVerifier: both checkpoints are validly signed by it, and
// they cannot both be true. It returns the two opened checkpoints.
func Verify(e *Evidence, logVerifier note.Verifier) (first, second *c2sp.SignedCheckpoint, err error) {
	if first, err = c2sp.OpenCheckpoint(e.First, logVerifier); err != nil {
		return nil, nil, fmt.Errorf("first checkpoint: %w", err)
	}
	if second, err = c2sp.OpenCheckpoint(e.Second, logVerifier); err != nil {
		return nil, nil, fmt.Errorf("second checkpoint: %w", err)
	}
	m, n := first.Size, second.Size
	switch {
	case m > n:
		return nil, nil, errors.New("evidence lists the larger checkpoint first")
	case m == n:
		if len(e.Proof) != 0 || first.Hash == second.Hash {
			return nil, nil, errors.New("equal-size checkpoints with equal roots (or a proof) prove nothing")
		}
		return first, second, nil
	case m == 0:
		return nil, nil, errors.New("every tree is consistent with the empty tree")
	}
	oldRoot, newRoot, err := c2sp.ConsistencyRoots(m, n, e.Proof)
	if err != nil {
		return nil, nil, err
	}
	if newRoot != second.Hash {
		return nil, nil, errors.New("the proof does not lead to the larger checkpoint's root")
	}
	if oldRoot == first.Hash {
		return nil, nil, errors.New("the proof shows the checkpoints are consistent")
	}
	return first, second, nil
}

// ProofFromTiles builds the proof part of split-view evidence from
// the tiles of the larger tree (n, root): the consistency path from m, with
// the larger tree's own hash of [0, m) prepended when m is a power of two.
// The tiles are verified against root as they are read.
func ProofFromTiles(ctx context.Context, fetch c2sp.TileFetcher, m, n uint64, root c2sp.Hash) ([]c2sp.Hash, error) {
	p, err := c2sp.ConsistencyProofFromTiles(ctx, fetch, m, n, root)
	if err != nil {
		return nil, err
	}
	if m&(m-1) == 0 {
		h, err := c2sp.TreeHashFromTiles(ctx, fetch, m, n, root)
		if err != nil {
			return nil, err
		}
		p = append([]c2sp.Hash{h}, p...)
	}
	return p, nil
}
