package c2sp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Constants of the tlog-witness protocol.
const (
	// AddCheckpointPath is the path, below a witness's prefix, where logs
	// submit checkpoints.
	AddCheckpointPath = "/add-checkpoint"
	// ContentTypeTreeSize is the content type of a 409 answer whose body is
	// the witness's latest size for the log, followed by a newline.
	ContentTypeTreeSize = "text/x.tlog.size"
	// MaxConsistencyProofLines is the most proof lines an add-checkpoint
	// request may carry.
	MaxConsistencyProofLines = 63
	// MaxAddCheckpointBody bounds an add-checkpoint request body; the spec asks
	// witnesses to accept at least 64 KiB.
	MaxAddCheckpointBody = 64 * 1024
)

// AddCheckpointRequest is the body of a tlog-witness add-checkpoint call: the
// size the log believes the witness has, a consistency proof from that size to
// the checkpoint's, and the signed checkpoint note.
type AddCheckpointRequest struct {
	OldSize    uint64
	Proof      []Hash
	Checkpoint []byte
}

// Marshal encodes the request body.
func (r AddCheckpointRequest) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("old ")
	b.WriteString(strconv.FormatUint(r.OldSize, 10))
	b.WriteByte('\n')
	for _, h := range r.Proof {
		b.WriteString(h.String())
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// ParseAddCheckpointRequest parses an add-checkpoint body strictly. It does not
// open the checkpoint note: the caller verifies it with the log's key.
func ParseAddCheckpointRequest(body []byte) (AddCheckpointRequest, error) {
	var r AddCheckpointRequest
	if len(body) > MaxAddCheckpointBody {
		return r, fmt.Errorf("request body is %d bytes, at most %d allowed", len(body), MaxAddCheckpointBody)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return r, errors.New("request body has no \"old <size>\" line")
	}
	oldText, found := bytes.CutPrefix(line, []byte("old "))
	if !found {
		return r, errors.New("request body must start with \"old <size>\"")
	}
	old, err := ParseDecimal(string(oldText))
	if err != nil {
		return r, fmt.Errorf("old size %q: %w", truncate(string(oldText)), err)
	}
	r.OldSize = old
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return r, errors.New("request body has no blank line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.Proof) == MaxConsistencyProofLines {
			return r, fmt.Errorf("consistency proof has more than %d lines", MaxConsistencyProofLines)
		}
		h, err := ParseHash(string(line))
		if err != nil {
			return r, fmt.Errorf("consistency proof line %d: %w", len(r.Proof)+1, err)
		}
		r.Proof = append(r.Proof, h)
	}
	if len(rest) == 0 {
		return r, errors.New("request body has no checkpoint")
	}
	r.Checkpoint = rest
	return r, nil
}
