package c2sp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	flog "github.com/transparency-dev/formats/log"

	"golang.org/x/mod/sumdb/note"
)

// MaxCheckpointSize bounds a signed checkpoint note (body and signatures).
// An Ed25519 cosignature line is about 150 bytes, an ML-DSA-44 one about
// 3,300 (base64 of a 4-byte key ID, an 8-byte timestamp and a 2,420-byte
// signature, plus the name): 32 KiB holds the log's signature and nine
// ML-DSA-44 cosignatures, or the 100 signatures signed-note lets a verifier
// stop at. It stays below the 64 KiB tlog-witness asks witnesses to accept
// for a whole add-checkpoint body (63 proof lines take under 3 KiB).
const MaxCheckpointSize = 32 * 1024

// maxExtensionLines bounds the optional extension lines of a checkpoint body.
const maxExtensionLines = 16

// Checkpoint is the body of a tlog-checkpoint: the log's origin, the tree size
// and the RFC 6962 root hash, plus any extension lines (without newlines).
type Checkpoint struct {
	Origin     string
	Size       uint64
	Hash       Hash
	Extensions []string
}

// Marshal returns the checkpoint body, each line ending in a newline: the
// three lines as github.com/transparency-dev/formats/log writes them, then
// the extension lines.
func (c Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	b.Write(flog.Checkpoint{Origin: c.Origin, Size: c.Size, Hash: c.Hash[:]}.Marshal())
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint body strictly: a non-empty origin without
// spaces, a canonical decimal size, a base64 hash of exactly 32 bytes, then
// optional non-empty extension lines; every line ends in a newline. A size-0
// checkpoint must carry the empty-tree root (SHA-256 of nothing).
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return c, errors.New("checkpoint body must end in a newline")
	}
	if !utf8.Valid(body) {
		return c, errors.New("checkpoint body is not valid UTF-8")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("checkpoint body has %d lines, want at least 3 (origin, size, hash)", len(lines))
	}
	if len(lines) > 3+maxExtensionLines {
		return c, fmt.Errorf("checkpoint body has %d extension lines, at most %d allowed", len(lines)-3, maxExtensionLines)
	}
	if err := checkOrigin(lines[0]); err != nil {
		return c, err
	}
	size, err := ParseDecimal(lines[1])
	if err != nil {
		return c, fmt.Errorf("checkpoint size %q: %w", truncate(lines[1]), err)
	}
	hash, err := ParseHash(lines[2])
	if err != nil {
		return c, fmt.Errorf("checkpoint root: %w", err)
	}
	if size == 0 && hash != EmptyRoot() {
		return c, ErrEmptyTreeRoot
	}
	for i, e := range lines[3:] {
		if e == "" {
			return c, fmt.Errorf("checkpoint extension line %d is empty", i+1)
		}
	}
	c.Origin, c.Size, c.Hash = lines[0], size, hash
	if len(lines) > 3 {
		c.Extensions = append([]string(nil), lines[3:]...)
	}
	return c, nil
}

// checkOrigin accepts a non-empty origin made of printable characters and no
// white space, which is what makes it usable as a signed-note key name too.
func checkOrigin(origin string) error {
	if origin == "" {
		return errors.New("checkpoint origin is empty")
	}
	if len(origin) > 255 {
		return errors.New("checkpoint origin is longer than 255 bytes")
	}
	for _, r := range origin {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '+' {
			return fmt.Errorf("checkpoint origin %q contains a space, '+' or a control character", truncate(origin))
		}
	}
	return nil
}

// ErrEmptyTreeRoot is returned by ParseCheckpoint for a size-0 checkpoint
// whose root is not the empty-tree root: a witness answers it with 422.
var ErrEmptyTreeRoot = errors.New("checkpoint of size 0 must carry the empty-tree root")

// SignedCheckpoint is a checkpoint whose log signature has been verified,
// together with the note it came in (which may hold cosignatures).
type SignedCheckpoint struct {
	Checkpoint
	// Note is the opened note; Note.Sigs holds every verified signature,
	// Note.UnverifiedSigs those from keys the caller did not supply.
	Note *note.Note
	// Bytes is the signed note exactly as received.
	Bytes []byte
}

// ErrNoLogSignature is returned (wrapped) by OpenCheckpoint when the note
// carries no valid signature from the log's key.
var ErrNoLogSignature = errors.New("no valid signature from the log's key")

// OpenCheckpoint verifies a signed checkpoint note: it must carry a valid
// signature by logVerifier, whose key name must equal the checkpoint origin.
// Signatures by any of the cosigners are verified too and, if present but
// invalid, fail the whole note (as signed-note requires); signatures by other
// keys are ignored and left in Note.UnverifiedSigs.
func OpenCheckpoint(signed []byte, logVerifier note.Verifier, cosigners ...note.Verifier) (*SignedCheckpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return nil, fmt.Errorf("signed checkpoint is %d bytes, at most %d allowed", len(signed), MaxCheckpointSize)
	}
	vs := append([]note.Verifier{logVerifier}, cosigners...)
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("couldn't verify checkpoint: %w", ErrNoLogSignature)
		}
		return nil, fmt.Errorf("couldn't verify checkpoint: %w", err)
	}
	if !HasSignature(n, logVerifier) {
		return nil, fmt.Errorf("couldn't verify checkpoint: %w", ErrNoLogSignature)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if c.Origin != logVerifier.Name() {
		return nil, fmt.Errorf("checkpoint origin %q does not match the log key name %q", truncate(c.Origin), logVerifier.Name())
	}
	return &SignedCheckpoint{Checkpoint: c, Note: n, Bytes: signed}, nil
}

// HasSignature reports whether the opened note carries a verified signature
// from the verifier's key (matched by name and key hash).
func HasSignature(n *note.Note, v note.Verifier) bool {
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return true
		}
	}
	return false
}
