//go:build ignore

// gen_mldsa44 wrote the ML-DSA-44 witness test vector of c2sp
// (testdata/mldsa44-*) once, with github.com/transparency-dev/formats/note
// v0.1.1 (which signs through filippo.io/mldsa):
//
//	go run ./c2sp/testdata/gen_mldsa44.go
//
// The keys come from fixed seeds and the cosignature carries a fixed
// timestamp; only the ML-DSA-44 signature itself (hedged, so randomised)
// differs between runs. The files are committed: they are the vector htlog
// must keep verifying, so do not regenerate them without a reason.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log"
	"os"

	"filippo.io/mldsa"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

const (
	origin    = "example.com/htlog-vector"
	witness   = "witness.example.com/mldsa44"
	timestamp = 1767225600 // 2026-01-01T00:00:00Z
	size      = 7
)

func main() {
	// The log: an Ed25519 signed-note key from a fixed seed.
	logSeed := sha256.Sum256([]byte("htlog ML-DSA-44 vector: log"))
	logPub := ed25519.NewKeyFromSeed(logSeed[:]).Public().(ed25519.PublicKey)
	logVKey, err := note.NewEd25519VerifierKey(origin, logPub)
	check(err)
	logSKey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", origin, keyID(origin, append([]byte{1}, logPub...)),
		base64.StdEncoding.EncodeToString(append([]byte{1}, logSeed[:]...)))
	logSigner, err := note.NewSigner(logSKey)
	check(err)

	// The witness: an ML-DSA-44 key (vkey type 0x06) from a fixed 32-byte
	// seed, in the skey and vkey formats formats' GenerateMLDSAKey writes.
	witSeed := sha256.Sum256([]byte("htlog ML-DSA-44 vector: witness"))
	sk, err := mldsa.NewPrivateKey(mldsa.MLDSA44(), witSeed[:])
	check(err)
	pub := append([]byte{6}, sk.PublicKey().Bytes()...)
	hash := keyID(witness, pub)
	witVKey := fmt.Sprintf("%s+%08x+%s", witness, hash, base64.StdEncoding.EncodeToString(pub))
	witSKey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", witness, hash, base64.StdEncoding.EncodeToString(append([]byte{6}, witSeed[:]...)))
	st, err := fnote.NewMLDSASigner(witSKey)
	check(err)
	if st.KeyHash() != hash {
		log.Fatalf("formats computes key ID %08x, the spec %08x", st.KeyHash(), hash)
	}

	// The checkpoint: size 7, the RFC 6962 root of the leaves "leaf 0".."leaf 6".
	var leaves [][32]byte
	for i := 0; i < size; i++ {
		leaves = append(leaves, sha256.Sum256(append([]byte{0}, fmt.Sprintf("leaf %d", i)...)))
	}
	root := merkleRoot(leaves)
	body := fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
	signed, err := note.Sign(&note.Note{Text: body}, logSigner)
	check(err)

	// The cosignature of the whole tree (start 0), at a fixed time.
	sig, err := st.SignSubtree(timestamp, origin, 0, size, root[:])
	check(err)
	cosigned := string(signed) + fmt.Sprintf("\u2014 %s %s\n", witness,
		base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, hash), sig...)))

	// Check it with formats' verifier before writing anything.
	witVer, err := fnote.NewVerifierForCosignatureV1(witVKey)
	check(err)
	logVer, err := note.NewVerifier(logVKey)
	check(err)
	if _, err := note.Open([]byte(cosigned), note.VerifierList(logVer, witVer)); err != nil {
		log.Fatalf("the vector does not verify: %v", err)
	}
	write("mldsa44-witness.vkey", witVKey+"\n")
	write("mldsa44-witness.skey", witSKey+"\n")
	write("mldsa44-log.vkey", logVKey+"\n")
	write("mldsa44-checkpoint.txt", cosigned)
}

// keyID is the signed-note key ID: SHA-256(name || "\n" || type || key)[:4].
func keyID(name string, typedKey []byte) uint32 {
	h := sha256.Sum256(append([]byte(name+"\n"), typedKey...))
	return binary.BigEndian.Uint32(h[:4])
}

func merkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := merkleRoot(leaves[:k]), merkleRoot(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func write(name, data string) {
	check(os.WriteFile("c2sp/testdata/"+name, []byte(data), 0o644))
	fmt.Println("wrote", name)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
