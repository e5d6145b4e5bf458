package c2sp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"filippo.io/mldsa"
	"golang.org/x/mod/sumdb/note"
)

// The vectors are described in testdata/README.md.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sigLine splits a note's last signature line into name and decoded bytes.
func lastSigLine(t *testing.T, signed []byte) (prefix []byte, name string, sig []byte) {
	t.Helper()
	i := bytes.LastIndex(signed[:len(signed)-1], []byte("\n")) + 1
	line := strings.TrimSuffix(strings.TrimPrefix(string(signed[i:]), "\u2014 "), "\n")
	name, b64, _ := strings.Cut(line, " ")
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return signed[:i], name, sig
}

func withSigLine(prefix []byte, name string, sig []byte) []byte {
	return fmt.Appendf(bytes.Clone(prefix), "\u2014 %s %s\n", name, base64.StdEncoding.EncodeToString(sig))
}

// TestMLDSA44Vector verifies the fixed ML-DSA-44 witness vector against a
// policy, and refuses tampered copies of its cosignature.
func TestMLDSA44Vector(t *testing.T) {
	logVKey := strings.TrimSpace(string(readTestdata(t, "mldsa44-log.vkey")))
	witVKey := strings.TrimSpace(string(readTestdata(t, "mldsa44-witness.vkey")))
	signed := readTestdata(t, "mldsa44-checkpoint.txt")
	p, err := ParsePolicy([]byte("log " + logVKey + "\nwitness W " + witVKey + "\nquorum W\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc, names, err := p.VerifyCheckpoint(signed)
	if err != nil || strings.Join(names, ",") != "W" {
		t.Fatalf("VerifyCheckpoint = %v, %v; want cosigned by W", names, err)
	}
	var leaves []Hash
	for i := 0; i < 7; i++ {
		leaves = append(leaves, LeafHash([]byte(fmt.Sprintf("leaf %d", i))))
	}
	if sc.Origin != "example.com/htlog-vector" || sc.Size != 7 || sc.Hash != rootOf(leaves) {
		t.Errorf("checkpoint = %s %d %s", sc.Origin, sc.Size, sc.Hash)
	}
	for _, s := range sc.Note.Sigs {
		if s.Name != "witness.example.com/mldsa44" {
			continue
		}
		if ts, err := CosignatureTime(s); err != nil || ts.Unix() != 1767225600 {
			t.Errorf("CosignatureTime = %v, %v; want 1767225600", ts, err)
		}
	}

	prefix, name, sig := lastSigLine(t, signed)
	if len(sig) != 4+8+mldsa.MLDSA44SignatureSize {
		t.Fatalf("cosignature is %d bytes, want 4+8+2420", len(sig))
	}
	tamper := map[string]func([]byte) []byte{
		"a bit of the signature":  func(s []byte) []byte { s[100] ^= 1; return s },
		"the last signature byte": func(s []byte) []byte { s[len(s)-1] ^= 0x80; return s },
		"the timestamp":           func(s []byte) []byte { s[11]++; return s },
		"a byte short":            func(s []byte) []byte { return s[:len(s)-1] },
		"a byte long":             func(s []byte) []byte { return append(s, 0) },
		"timestamp zero":          func(s []byte) []byte { clear(s[4:12]); return s },
	}
	for what, f := range tamper {
		bad := withSigLine(prefix, name, f(bytes.Clone(sig)))
		_, _, err := p.VerifyCheckpoint(bad)
		var inv *note.InvalidSignatureError
		if !errors.As(err, &inv) {
			t.Errorf("tampered %s: err = %v, want an invalid signature", what, err)
		}
	}
	// The body is the log's to sign: another size fails the log signature.
	bad := bytes.Replace(signed, []byte("\n7\n"), []byte("\n8\n"), 1)
	if _, _, err := p.VerifyCheckpoint(bad); err == nil {
		t.Error("a checkpoint with another size verified")
	}

	// ML-DSA-44 cosignatures commit to the cosigner's name (Ed25519 ones
	// do not): the same key under another name, with the key ID that name
	// gives, must not verify the signature made under the first name.
	raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(witVKey, "+", 3)[2])
	other := "witness.example.com/other"
	otherVKey := fmt.Sprintf("%s+%08x+%s", other, specKeyID(other, raw), base64.StdEncoding.EncodeToString(raw))
	op, err := ParsePolicy([]byte("log " + logVKey + "\nwitness W " + otherVKey + "\nquorum W\n"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := withSigLine(prefix, other, append(binary.BigEndian.AppendUint32(nil, specKeyID(other, raw)), sig[4:]...))
	var inv *note.InvalidSignatureError
	if _, _, err := op.VerifyCheckpoint(renamed); !errors.As(err, &inv) {
		t.Errorf("a cosignature moved to another name: err = %v, want an invalid signature", err)
	}
	// And under the policy that lists the real name, the renamed line is
	// an unknown signature: ignored, so the quorum is not met.
	if _, _, err := p.VerifyCheckpoint(renamed); !errors.Is(err, ErrQuorumNotMet) {
		t.Errorf("an unknown cosigner: err = %v, want ErrQuorumNotMet", err)
	}
}

// specKeyID computes the key ID as tlog-cosignature states it, apart from
// the note packages: SHA-256(<name> || "\n" || 0x06 || public key)[:4].
func specKeyID(name string, typedKey []byte) uint32 {
	h := sha256.Sum256(append([]byte(name+"\n"), typedKey...))
	return binary.BigEndian.Uint32(h[:4])
}

// specMessage builds the ML-DSA-44 cosigned_message from the text of
// tlog-cosignature, apart from formats' implementation.
func specMessage(cosigner string, timestamp uint64, origin string, start, end uint64, hash []byte) []byte {
	m := []byte("subtree/v1\n\x00")
	m = append(m, byte(len(cosigner)))
	m = append(m, cosigner...)
	m = binary.BigEndian.AppendUint64(m, timestamp)
	m = append(m, byte(len(origin)))
	m = append(m, origin...)
	m = binary.BigEndian.AppendUint64(m, start)
	m = binary.BigEndian.AppendUint64(m, end)
	return append(m, hash...)
}

// TestMLDSA44MatchesSpec checks both vectors with the spec's own
// definitions (key ID, timestamped_signature, cosigned_message) and plain
// ML-DSA-44 verification: formats, torchwood and the spec agree.
func TestMLDSA44MatchesSpec(t *testing.T) {
	for _, v := range []struct{ vkey, note string }{
		{"mldsa44-witness.vkey", "mldsa44-checkpoint.txt"},
		{"torchwood-mldsa44.vkey", "torchwood-mldsa44-checkpoint.txt"},
	} {
		t.Run(v.vkey, func(t *testing.T) {
			vkey := strings.TrimSpace(string(readTestdata(t, v.vkey)))
			parts := strings.SplitN(vkey, "+", 3)
			raw, err := base64.StdEncoding.DecodeString(parts[2])
			if err != nil || len(raw) != 1+mldsa.MLDSA44PublicKeySize || raw[0] != KeyTypeMLDSA44Cosignature {
				t.Fatalf("vkey is %d bytes of type %#x, want 1+1312 of type 0x06", len(raw), raw[0])
			}
			if got := fmt.Sprintf("%08x", specKeyID(parts[0], raw)); got != parts[1] {
				t.Fatalf("key ID %s, the vkey says %s", got, parts[1])
			}
			pub, err := mldsa.NewPublicKey(mldsa.MLDSA44(), raw[1:])
			if err != nil {
				t.Fatal(err)
			}
			signed := readTestdata(t, v.note)
			_, name, sig := lastSigLine(t, signed)
			if name != parts[0] || binary.BigEndian.Uint32(sig) != specKeyID(parts[0], raw) {
				t.Fatalf("the last line is not this key's")
			}
			body := signed[:bytes.Index(signed, []byte("\n\n"))+1]
			c, err := ParseCheckpoint(body)
			if err != nil {
				t.Fatal(err)
			}
			ts := binary.BigEndian.Uint64(sig[4:12])
			msg := specMessage(parts[0], ts, c.Origin, 0, c.Size, c.Hash[:])
			if err := mldsa.Verify(pub, msg, sig[12:], nil); err != nil {
				t.Errorf("the spec's message does not verify: %v", err)
			}
			// And htlog's verifier agrees.
			cv, err := NewCosignatureVerifier(vkey)
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Open(signed, note.VerifierList(cv))
			if err != nil || !HasSignature(n, cv) {
				t.Errorf("NewCosignatureVerifier: %v", err)
			}
			msg[len(msg)-1] ^= 1
			if mldsa.Verify(pub, msg, sig[12:], nil) == nil {
				t.Error("a changed root verified")
			}
		})
	}
}

// TestMLDSA44Witnesses cosigns with a fresh ML-DSA-44 witness beside two
// Ed25519 ones under a 2-of-3 policy, and checks the size bounds leave room
// for ML-DSA-44 cosignatures.
func TestMLDSA44Witnesses(t *testing.T) {
	k := newTestKeys(t, "example.com/log", 2)
	skey, vkey, err := GenerateWitnessKey("pq.example/w3", WitnessAlgMLDSA44)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewCosigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	k.witSigners = append(k.witSigners, s)
	k.witVKeys = append(k.witVKeys, vkey)
	p, err := ParsePolicy(fmt.Appendf(nil, "log %s\nwitness A %s\nwitness B %s\nwitness C %s\ngroup g 2 A B C\nquorum g\n",
		k.logVKey, k.witVKeys[0], k.witVKeys[1], k.witVKeys[2]))
	if err != nil {
		t.Fatal(err)
	}
	if _, names, err := p.VerifyCheckpoint(signedCheckpoint(t, k, 10, 0, 2)); err != nil || strings.Join(names, ",") != "A,C" {
		t.Errorf("Ed25519 + ML-DSA-44: %v, %v", names, err)
	}
	if _, _, err := p.VerifyCheckpoint(signedCheckpoint(t, k, 10, 2)); !errors.Is(err, ErrQuorumNotMet) {
		t.Errorf("ML-DSA-44 alone: %v, want ErrQuorumNotMet", err)
	}

	// Nine ML-DSA-44 cosignatures (names of 40 bytes) and the log's fit in
	// a checkpoint, which with 63 proof hashes fits a tlog-proof and an
	// add-checkpoint body.
	big := newTestKeys(t, "example.com/"+strings.Repeat("o", 100), 0)
	for i := 0; i < 9; i++ {
		skey, _, err := GenerateWitnessKey(fmt.Sprintf("witness-%d.example.com/%s", i, strings.Repeat("x", 14)), WitnessAlgMLDSA44)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewCosigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		big.witSigners = append(big.witSigners, s)
	}
	signers := []note.Signer{big.logSigner}
	for _, s := range big.witSigners {
		signers = append(signers, s)
	}
	body := Checkpoint{Origin: big.logVerifier.Name(), Size: 1 << 40, Hash: LeafHash(nil)}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	if len(signed) > MaxCheckpointSize {
		t.Fatalf("a checkpoint with nine ML-DSA-44 cosignatures is %d bytes, over MaxCheckpointSize %d", len(signed), MaxCheckpointSize)
	}
	if _, err := OpenCheckpoint(signed, big.logVerifier); err != nil {
		t.Errorf("OpenCheckpoint: %v", err)
	}
	hashes := make([]Hash, 63)
	if n := len((&Proof{Index: 1<<40 - 1, Hashes: hashes, Checkpoint: make([]byte, MaxCheckpointSize)}).Marshal()); n > MaxProofSize {
		t.Errorf("a proof with a full checkpoint is %d bytes, over MaxProofSize", n)
	}
	if n := len(AddCheckpointRequest{OldSize: 1 << 40, Proof: hashes, Checkpoint: make([]byte, MaxCheckpointSize)}.Marshal()); n > MaxAddCheckpointBody {
		t.Errorf("an add-checkpoint body with a full checkpoint is %d bytes, over MaxAddCheckpointBody", n)
	}

	// The signed message gives the cosigner name one byte of length.
	long := strings.Repeat("n", 256)
	if _, _, err := GenerateWitnessKey(long, WitnessAlgMLDSA44); err == nil {
		t.Error("GenerateWitnessKey took a 256-byte ML-DSA-44 name")
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(vkey, "+", 3)[2])
	longVKey := fmt.Sprintf("%s+%08x+%s", long, specKeyID(long, raw), base64.StdEncoding.EncodeToString(raw))
	if _, err := NewCosignatureVerifier(longVKey); err == nil {
		t.Error("NewCosignatureVerifier took a 256-byte ML-DSA-44 name")
	}
	if _, err := ParsePolicy([]byte("witness W " + longVKey + "\nquorum W\n")); err == nil {
		t.Error("ParsePolicy took a 256-byte ML-DSA-44 name")
	}
	if _, _, err := GenerateWitnessKey("w.example", "rsa"); err == nil {
		t.Error("GenerateWitnessKey took rsa")
	}
}
