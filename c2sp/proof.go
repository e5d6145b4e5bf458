package c2sp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	fproof "github.com/transparency-dev/formats/proof"
)

// ProofHeader is the first line of a tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// MaxProofSize bounds a tlog-proof file: 63 hashes, extra data and a
// checkpoint of MaxCheckpointSize (ML-DSA-44 cosignatures included) fit.
const MaxProofSize = 64 * 1024

// Proof is an offline-verifiable tlog-proof: the entry's index, its inclusion
// proof in the checkpointed tree, optional unauthenticated extra data, and the
// signed checkpoint with its cosignatures.
type Proof struct {
	Extra      []byte
	Index      uint64
	Hashes     []Hash
	Checkpoint []byte
}

// Marshal encodes the proof in the tlog-proof text form, with
// github.com/transparency-dev/formats/proof's encoder (an empty Extra is
// left out, as ParseProof refuses an empty extra line).
func (p Proof) Marshal() []byte {
	fp := fproof.TLogProof{Index: p.Index, Checkpoint: p.Checkpoint, Hashes: make([][HashSize]byte, len(p.Hashes))}
	if len(p.Extra) > 0 {
		fp.ExtraData = p.Extra
	}
	for i, h := range p.Hashes {
		fp.Hashes[i] = h
	}
	return fp.Marshal()
}

// ParseProof parses a tlog-proof strictly. It does not verify anything: see
// Policy.VerifyProof.
func ParseProof(data []byte) (*Proof, error) {
	if len(data) > MaxProofSize {
		return nil, fmt.Errorf("proof is %d bytes, at most %d allowed", len(data), MaxProofSize)
	}
	next := func() (string, bool) {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			return "", false
		}
		data = rest
		return string(line), true
	}
	line, ok := next()
	if !ok || line != ProofHeader {
		return nil, fmt.Errorf("proof must start with %q", ProofHeader)
	}
	p := &Proof{}
	if line, ok = next(); !ok {
		return nil, errors.New("proof has no index line")
	}
	if extra, found := cutPrefix(line, "extra "); found {
		b, err := base64.StdEncoding.Strict().DecodeString(extra)
		if err != nil || len(b) == 0 {
			return nil, errors.New("proof extra line is not non-empty standard base64")
		}
		p.Extra = b
		if line, ok = next(); !ok {
			return nil, errors.New("proof has no index line")
		}
	}
	index, found := cutPrefix(line, "index ")
	if !found {
		return nil, errors.New("proof has no \"index <n>\" line")
	}
	n, err := ParseDecimal(index)
	if err != nil {
		return nil, fmt.Errorf("proof index %q: %w", truncate(index), err)
	}
	p.Index = n
	for {
		if line, ok = next(); !ok {
			return nil, errors.New("proof has no blank line before the checkpoint")
		}
		if line == "" {
			break
		}
		if len(p.Hashes) == 64 {
			return nil, errors.New("inclusion proof has more than 64 hashes")
		}
		h, err := ParseHash(line)
		if err != nil {
			return nil, fmt.Errorf("inclusion proof line %d: %w", len(p.Hashes)+1, err)
		}
		p.Hashes = append(p.Hashes, h)
	}
	if len(data) == 0 {
		return nil, errors.New("proof has no checkpoint")
	}
	// A signed note ends with a newline and holds no carriage return (line
	// readers such as formats/proof's would drop it and read another note).
	if data[len(data)-1] != '\n' || bytes.IndexByte(data, '\r') >= 0 {
		return nil, errors.New("proof's checkpoint is not a signed note: it must end with a newline and hold no carriage return")
	}
	p.Checkpoint = data
	return p, nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}
