package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a checkpoint verified against a policy: signed by a log the
// policy lists and cosigned to the policy's quorum.
type Checkpoint struct {
	*c2sp.SignedCheckpoint
	// Witnesses are the names (as the policy spells them) of the witnesses
	// whose cosignatures verified, sorted.
	Witnesses []string
	// UnknownSigners are the key names of signatures from keys the policy
	// does not list. As signed-note, tlog-checkpoint and tlog-witness
	// require, they were ignored: not verified, and counted for nothing.
	UnknownSigners []string
}

// ErrUnknownSignature is wrapped by ProofResult.Strict's error when the
// proof's checkpoint carries a signature from a key the policy does not
// list: a witness outside the policy cosigned it, or someone added a line.
// The specs tell verifiers to ignore such signatures, so only strict
// verification refuses them.
var ErrUnknownSignature = errors.New("signature from a key the policy does not list")

// VerifyCheckpoint verifies a signed checkpoint against policy (and, when
// origin is not empty, insists on that log). Signatures from keys the policy
// does not list are ignored, as signed-note requires, and named in
// UnknownSigners. Beyond signed-note's rules it refuses malleable encodings
// of the signatures it verifies: each must be canonical base64 and appear
// once, so that no one can alter a signature that counts and still have the
// checkpoint verify. Failures wrap ErrNotVerified, and c2sp.ErrQuorumNotMet
// or c2sp.ErrUnknownLog when that is the reason; a checkpoint whose only
// fault is a missing quorum is returned along with the error.
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
	if serr := checkCanonicalSignatures(signed, sc.Note.Sigs); serr != nil {
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
// note.Open accepted, line by line for the keys whose signatures verified
// (the others are ignored): each such signature is strict base64 (no
// ignored padding bits), and appears on one line only (note.Open keeps the
// first line of a key and skips the others unverified).
func checkCanonicalSignatures(signed []byte, verified []note.Signature) error {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return notVerified("checkpoint has no signature block")
	}
	type key struct {
		name string
		hash uint32
	}
	known := map[key]int{}
	for _, s := range verified {
		known[key{s.Name, s.Hash}] = 0
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(signed[i+2:]), "\n"), "\n") {
		name, b64, _ := strings.Cut(strings.TrimPrefix(l, "\u2014 "), " ")
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) < 4 {
			continue // note.Open accepted the note, so this cannot happen
		}
		k := key{name, binary.BigEndian.Uint32(sig)}
		n, ok := known[k]
		if !ok {
			continue
		}
		if _, err := base64.StdEncoding.Strict().DecodeString(b64); err != nil {
			return notVerified("checkpoint signature %q is not canonical base64", truncate(l))
		}
		if n == 1 {
			return notVerified("checkpoint carries two signature lines for the key %q", truncate(name))
		}
		known[k] = n + 1
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
