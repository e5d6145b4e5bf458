package c2sp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/transparency-dev/merkle/rfc6962"
	"math/bits"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// EvidenceHeader is the first line of a split-view evidence bundle.
const EvidenceHeader = "htlog.dev/split-view-evidence/v1"

// MaxEvidenceSize bounds an evidence bundle.
const MaxEvidenceSize = 2*MaxCheckpointSize + 8*1024

// Evidence shows that a log signed two checkpoints that cannot both be true.
// First is the smaller (or equal) size. With different sizes m < n, Proof is
// a consistency path from m to n taken from the log's own data for the larger
// tree, with the hash of the tree [0, m) prepended when m is a power of two,
// so that ConsistencyRoots yields both roots from the proof alone: it must
// yield Second's root, and a root for size m that differs from First's. With
// equal sizes the roots differ and Proof is empty.
type Evidence struct {
	First, Second []byte
	Proof         []Hash
}

// ID names the evidence: hex SHA-256 of its encoding.
func (e Evidence) ID() string {
	sum := sha256.Sum256(e.Marshal())
	return hex.EncodeToString(sum[:])
}

// Marshal encodes the evidence bundle.
func (e Evidence) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(EvidenceHeader + "\n")
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

// ParseEvidence parses an evidence bundle without verifying it.
func ParseEvidence(data []byte) (*Evidence, error) {
	if len(data) > MaxEvidenceSize {
		return nil, fmt.Errorf("evidence is %d bytes, at most %d allowed", len(data), MaxEvidenceSize)
	}
	line := func(prefix string) (string, error) {
		l, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok || !bytes.HasPrefix(l, []byte(prefix)) {
			return "", fmt.Errorf("evidence: want a %q line", prefix)
		}
		data = rest
		return string(l[len(prefix):]), nil
	}
	if header, err := line(EvidenceHeader); err != nil || header != "" {
		return nil, fmt.Errorf("evidence must start with the line %q", EvidenceHeader)
	}
	e := &Evidence{}
	for _, dst := range []*[]byte{&e.First, &e.Second} {
		n, err := line("checkpoint ")
		if err != nil {
			return nil, err
		}
		size, err := parseDecimal(n)
		if err != nil || size > MaxCheckpointSize || size > uint64(len(data)) {
			return nil, fmt.Errorf("evidence: bad checkpoint length %q", truncate(n))
		}
		*dst, data = data[:size:size], data[size:]
	}
	n, err := line("proof ")
	if err != nil {
		return nil, err
	}
	k, err := parseDecimal(n)
	if err != nil || k > 65 {
		return nil, fmt.Errorf("evidence: bad proof length %q", truncate(n))
	}
	for i := uint64(0); i < k; i++ {
		l, err := line("")
		if err != nil {
			return nil, err
		}
		h, err := ParseHash(l)
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

// VerifyEvidence checks that the evidence proves a split view of the log
// whose key is logVerifier: both checkpoints are validly signed by it, and
// they cannot both be true. It returns the two opened checkpoints.
func VerifyEvidence(e *Evidence, logVerifier note.Verifier) (first, second *SignedCheckpoint, err error) {
	if first, err = OpenCheckpoint(e.First, logVerifier); err != nil {
		return nil, nil, fmt.Errorf("first checkpoint: %w", err)
	}
	if second, err = OpenCheckpoint(e.Second, logVerifier); err != nil {
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
	oldRoot, newRoot, err := ConsistencyRoots(m, n, e.Proof)
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

// ConsistencyRoots runs the RFC 9162 consistency walk over a path from size m
// to size n (0 < m < n) and returns the two roots it determines. When m is a
// power of two the path must begin with the root of the tree of size m (which
// a plain consistency proof leaves out, since the verifier already has it).
func ConsistencyRoots(m, n uint64, path []Hash) (oldRoot, newRoot Hash, err error) {
	if m == 0 || m >= n {
		return oldRoot, newRoot, fmt.Errorf("consistency walk needs 0 < m < n, got %d and %d", m, n)
	}
	if len(path) == 0 {
		return oldRoot, newRoot, errors.New("consistency path is empty")
	}
	fn, sn := m-1, n-1
	if m&(m-1) == 0 {
		// The first element is the old root itself; skip the levels it covers.
		shift := bits.TrailingZeros64(m)
		fn >>= shift
		sn >>= shift
	} else {
		for fn&1 == 1 {
			fn >>= 1
			sn >>= 1
		}
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return oldRoot, newRoot, errors.New("consistency path is too long")
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeHash(c, fr)
			sr = nodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return oldRoot, newRoot, errors.New("consistency path is too short")
	}
	return fr, sr, nil
}

// nodeHash is the RFC 6962 hash of an interior node, by merkle's hasher.
func nodeHash(l, r Hash) Hash {
	return Hash(rfc6962.DefaultHasher.HashChildren(l[:], r[:]))
}

// EvidenceProofFromTiles builds the proof part of split-view evidence from
// the tiles of the larger tree (n, root): the consistency path from m, with
// the larger tree's own hash of [0, m) prepended when m is a power of two.
// The tiles are verified against root as they are read.
func EvidenceProofFromTiles(ctx context.Context, fetch TileFetcher, m, n uint64, root Hash) ([]Hash, error) {
	p, err := ConsistencyProofFromTiles(ctx, fetch, m, n, root)
	if err != nil {
		return nil, err
	}
	if m&(m-1) == 0 {
		h, err := tlog.TreeHash(int64(m), hashReader(ctx, fetch, n, root))
		if err != nil {
			return nil, fmt.Errorf("couldn't read the hash of the first %d leaves from tiles: %w", m, err)
		}
		p = append([]Hash{Hash(h)}, p...)
	}
	return p, nil
}
