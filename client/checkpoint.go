package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/htlog/htlog/internal/c2sp"
)

// Checkpoint is a checkpoint verified against a policy: signed by a log the
// policy lists and cosigned to the policy's quorum.
type Checkpoint struct {
	*c2sp.SignedCheckpoint
	// Witnesses are the names (as the policy spells them) of the witnesses
	// whose cosignatures verified, sorted.
	Witnesses []string
	// UnknownSigners are the key names of signatures from keys the policy
	// does not list; they were not verified and count for nothing.
	UnknownSigners []string
}

// ErrUnknownSignature is wrapped by VerifyProofFile's error when the proof's
// checkpoint carries a signature from a key the policy does not list:
// either the proof was altered or a witness outside the policy cosigned it.
var ErrUnknownSignature = errors.New("signature from a key the policy does not list")

// VerifyCheckpoint verifies a signed checkpoint against policy (and, when
// origin is not empty, insists on that log). Beyond signed-note's rules it
// refuses malleable encodings: every signature must be canonical base64 and
// appear once, so that two different byte strings never verify as the same
// checkpoint. Failures wrap ErrNotVerified, and c2sp.ErrQuorumNotMet or
// c2sp.ErrUnknownLog when that is the reason; a checkpoint whose only fault
// is a missing quorum is returned along with the error.
func VerifyCheckpoint(policy *c2sp.Policy, origin string, signed []byte) (*Checkpoint, error) {
	if policy == nil {
		return nil, errors.New("no policy: set Client.Policy (a C2SP tlog-policy naming the log and its witnesses)")
	}
	if origin != "" {
		got, _, _ := bytes.Cut(signed, []byte("\n"))
		if string(got) != origin {
			return nil, fmt.Errorf("%w: %w: checkpoint is for %q, want %q", ErrNotVerified, c2sp.ErrUnknownLog, truncate(string(got)), origin)
		}
	}
	sc, names, err := policy.VerifyCheckpoint(signed)
	if err != nil && (sc == nil || !errors.Is(err, c2sp.ErrQuorumNotMet)) {
		return nil, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	cp := &Checkpoint{SignedCheckpoint: sc, Witnesses: names}
	if serr := checkCanonicalSignatures(signed, len(sc.Note.Sigs)+len(sc.Note.UnverifiedSigs)); serr != nil {
		return nil, serr
	}
	for _, s := range sc.Note.UnverifiedSigs {
		cp.UnknownSigners = append(cp.UnknownSigners, s.Name)
	}
	if err != nil {
		return cp, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	return cp, nil
}

// checkCanonicalSignatures checks the signature block of a note that
// note.Open accepted: every signature is strict base64 (no ignored padding
// bits), and no line was dropped as a duplicate (want is the number of
// signatures Open kept).
func checkCanonicalSignatures(signed []byte, want int) error {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return notVerified("checkpoint has no signature block")
	}
	lines := strings.Split(strings.TrimSuffix(string(signed[i+2:]), "\n"), "\n")
	for _, l := range lines {
		b64 := l[strings.LastIndexByte(l, ' ')+1:]
		if _, err := base64.StdEncoding.Strict().DecodeString(b64); err != nil {
			return notVerified("checkpoint signature %q is not canonical base64", truncate(l))
		}
	}
	if len(lines) != want {
		return notVerified("checkpoint repeats a signature line (%d lines, %d distinct)", len(lines), want)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Checkpoint fetches the log's latest checkpoint and verifies it against the
// policy. It does not compare it with any earlier checkpoint: use a Keeper
// for that.
func (c *Client) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	signed, err := c.get(ctx, "checkpoint")
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the checkpoint: %w", err)
	}
	return VerifyCheckpoint(c.Policy, c.Origin, signed)
}
