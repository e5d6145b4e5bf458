// Package c2sp re-exports github.com/htlog/htlog/c2sp, where the code moved when it became
// public (issue 17), for the packages that still import this path.
// Each name is an alias of, or calls, the public one, so values pass
// freely between the two paths. New code imports github.com/htlog/htlog/c2sp.
package c2sp

import (
	"context"
	moved "github.com/htlog/htlog/c2sp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"time"
)

// AddCheckpointPath is [moved.AddCheckpointPath].
const AddCheckpointPath = moved.AddCheckpointPath

// AddCheckpointRequest is [moved.AddCheckpointRequest].
type AddCheckpointRequest = moved.AddCheckpointRequest

// BytesToHashes is [moved.BytesToHashes].
func BytesToHashes(bs [][]byte) ([]Hash, error) {
	return moved.BytesToHashes(bs)
}

// Checkpoint is [moved.Checkpoint].
type Checkpoint = moved.Checkpoint

// ConsistencyProofFromTiles is [moved.ConsistencyProofFromTiles].
func ConsistencyProofFromTiles(ctx context.Context, fetch TileFetcher, oldSize, size uint64, root Hash) ([]Hash, error) {
	return moved.ConsistencyProofFromTiles(ctx, fetch, oldSize, size, root)
}

// ConsistencyRoots is [moved.ConsistencyRoots].
func ConsistencyRoots(m, n uint64, path []Hash) (oldRoot, newRoot Hash, err error) {
	return moved.ConsistencyRoots(m, n, path)
}

// ContentTypeCheckpoint is [moved.ContentTypeCheckpoint].
const ContentTypeCheckpoint = moved.ContentTypeCheckpoint

// ContentTypeTreeSize is [moved.ContentTypeTreeSize].
const ContentTypeTreeSize = moved.ContentTypeTreeSize

// CosignatureTime is [moved.CosignatureTime].
func CosignatureTime(sig note.Signature) (time.Time, error) {
	return moved.CosignatureTime(sig)
}

// EmptyRoot is [moved.EmptyRoot].
func EmptyRoot() Hash {
	return moved.EmptyRoot()
}

// EntriesPath is [moved.EntriesPath].
func EntriesPath(index uint64, width int) string {
	return moved.EntriesPath(index, width)
}

// ErrEmptyTreeRoot is [moved.ErrEmptyTreeRoot].
var ErrEmptyTreeRoot = moved.ErrEmptyTreeRoot

// ErrInconsistent is [moved.ErrInconsistent].
var ErrInconsistent = moved.ErrInconsistent

// ErrNoLogSignature is [moved.ErrNoLogSignature].
var ErrNoLogSignature = moved.ErrNoLogSignature

// ErrQuorumNotMet is [moved.ErrQuorumNotMet].
var ErrQuorumNotMet = moved.ErrQuorumNotMet

// ErrUnknownLog is [moved.ErrUnknownLog].
var ErrUnknownLog = moved.ErrUnknownLog

// Evidence is [moved.Evidence].
type Evidence = moved.Evidence

// EvidenceHeader is [moved.EvidenceHeader].
const EvidenceHeader = moved.EvidenceHeader

// EvidenceProofFromTiles is [moved.EvidenceProofFromTiles].
func EvidenceProofFromTiles(ctx context.Context, fetch TileFetcher, m, n uint64, root Hash) ([]Hash, error) {
	return moved.EvidenceProofFromTiles(ctx, fetch, m, n, root)
}

// GenerateWitnessKey is [moved.GenerateWitnessKey].
func GenerateWitnessKey(name, alg string) (skey, vkey string, err error) {
	return moved.GenerateWitnessKey(name, alg)
}

// HasSignature is [moved.HasSignature].
func HasSignature(n *note.Note, v note.Verifier) bool {
	return moved.HasSignature(n, v)
}

// Hash is [moved.Hash].
type Hash = moved.Hash

// HashSize is [moved.HashSize].
const HashSize = moved.HashSize

// HashesToBytes is [moved.HashesToBytes].
func HashesToBytes(hs []Hash) [][]byte {
	return moved.HashesToBytes(hs)
}

// InclusionProofFromTiles is [moved.InclusionProofFromTiles].
func InclusionProofFromTiles(ctx context.Context, fetch TileFetcher, index, size uint64, root Hash) ([]Hash, error) {
	return moved.InclusionProofFromTiles(ctx, fetch, index, size, root)
}

// KeyTypeEd25519Cosignature is [moved.KeyTypeEd25519Cosignature].
const KeyTypeEd25519Cosignature = moved.KeyTypeEd25519Cosignature

// KeyTypeMLDSA44Cosignature is [moved.KeyTypeMLDSA44Cosignature].
const KeyTypeMLDSA44Cosignature = moved.KeyTypeMLDSA44Cosignature

// LeafHash is [moved.LeafHash].
func LeafHash(entry []byte) Hash {
	return moved.LeafHash(entry)
}

// MarshalEntryBundle is [moved.MarshalEntryBundle].
func MarshalEntryBundle(entries [][]byte) ([]byte, error) {
	return moved.MarshalEntryBundle(entries)
}

// MaxAddCheckpointBody is [moved.MaxAddCheckpointBody].
const MaxAddCheckpointBody = moved.MaxAddCheckpointBody

// MaxCheckpointSize is [moved.MaxCheckpointSize].
const MaxCheckpointSize = moved.MaxCheckpointSize

// MaxConsistencyProofLines is [moved.MaxConsistencyProofLines].
const MaxConsistencyProofLines = moved.MaxConsistencyProofLines

// MaxEntrySize is [moved.MaxEntrySize].
const MaxEntrySize = moved.MaxEntrySize

// MaxEvidenceSize is [moved.MaxEvidenceSize].
const MaxEvidenceSize = moved.MaxEvidenceSize

// MaxPolicySize is [moved.MaxPolicySize].
const MaxPolicySize = moved.MaxPolicySize

// MaxProofSize is [moved.MaxProofSize].
const MaxProofSize = moved.MaxProofSize

// NewCosignatureVerifier is [moved.NewCosignatureVerifier].
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	return moved.NewCosignatureVerifier(vkey)
}

// NewCosigner is [moved.NewCosigner].
func NewCosigner(skey string) (*fnote.Signer, error) {
	return moved.NewCosigner(skey)
}

// NewLogSigner is [moved.NewLogSigner].
func NewLogSigner(skey string) (note.Signer, error) {
	return moved.NewLogSigner(skey)
}

// NewLogVerifier is [moved.NewLogVerifier].
func NewLogVerifier(vkey string) (note.Verifier, error) {
	return moved.NewLogVerifier(vkey)
}

// OpenCheckpoint is [moved.OpenCheckpoint].
func OpenCheckpoint(signed []byte, logVerifier note.Verifier, cosigners ...note.Verifier) (*SignedCheckpoint, error) {
	return moved.OpenCheckpoint(signed, logVerifier, cosigners...)
}

// OpenPromise is [moved.OpenPromise].
func OpenPromise(signed []byte, log note.Verifier) (*Promise, error) {
	return moved.OpenPromise(signed, log)
}

// ParseAddCheckpointRequest is [moved.ParseAddCheckpointRequest].
func ParseAddCheckpointRequest(body []byte) (AddCheckpointRequest, error) {
	return moved.ParseAddCheckpointRequest(body)
}

// ParseCheckpoint is [moved.ParseCheckpoint].
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	return moved.ParseCheckpoint(body)
}

// ParseEntryBundle is [moved.ParseEntryBundle].
func ParseEntryBundle(data []byte, want int) ([][]byte, error) {
	return moved.ParseEntryBundle(data, want)
}

// ParseEvidence is [moved.ParseEvidence].
func ParseEvidence(data []byte) (*Evidence, error) {
	return moved.ParseEvidence(data)
}

// ParseHash is [moved.ParseHash].
func ParseHash(s string) (Hash, error) {
	return moved.ParseHash(s)
}

// ParsePolicy is [moved.ParsePolicy].
func ParsePolicy(text []byte) (*Policy, error) {
	return moved.ParsePolicy(text)
}

// ParseProof is [moved.ParseProof].
func ParseProof(data []byte) (*Proof, error) {
	return moved.ParseProof(data)
}

// ParseTilePath is [moved.ParseTilePath].
func ParseTilePath(path string) (TileRef, error) {
	return moved.ParseTilePath(path)
}

// Policy is [moved.Policy].
type Policy = moved.Policy

// PolicyLog is [moved.PolicyLog].
type PolicyLog = moved.PolicyLog

// PolicyWitness is [moved.PolicyWitness].
type PolicyWitness = moved.PolicyWitness

// Promise is [moved.Promise].
type Promise = moved.Promise

// PromiseHeader is [moved.PromiseHeader].
const PromiseHeader = moved.PromiseHeader

// Proof is [moved.Proof].
type Proof = moved.Proof

// ProofHeader is [moved.ProofHeader].
const ProofHeader = moved.ProofHeader

// RootFromLeafHashes is [moved.RootFromLeafHashes].
func RootFromLeafHashes(hs []Hash) Hash {
	return moved.RootFromLeafHashes(hs)
}

// SignedCheckpoint is [moved.SignedCheckpoint].
type SignedCheckpoint = moved.SignedCheckpoint

// TileFetcher is [moved.TileFetcher].
type TileFetcher = moved.TileFetcher

// TileHashes is [moved.TileHashes].
func TileHashes(leafHashes []Hash) (map[string][]byte, error) {
	return moved.TileHashes(leafHashes)
}

// TileHeight is [moved.TileHeight].
const TileHeight = moved.TileHeight

// TilePath is [moved.TilePath].
func TilePath(level uint8, index uint64, width int) string {
	return moved.TilePath(level, index, width)
}

// TileRef is [moved.TileRef].
type TileRef = moved.TileRef

// TileWidth is [moved.TileWidth].
const TileWidth = moved.TileWidth

// VKeyFromSKey is [moved.VKeyFromSKey].
func VKeyFromSKey(skey string) (string, error) {
	return moved.VKeyFromSKey(skey)
}

// VerifyConsistency is [moved.VerifyConsistency].
func VerifyConsistency(oldSize, newSize uint64, oldRoot, newRoot Hash, p []Hash) error {
	return moved.VerifyConsistency(oldSize, newSize, oldRoot, newRoot, p)
}

// VerifyEvidence is [moved.VerifyEvidence].
func VerifyEvidence(e *Evidence, logVerifier note.Verifier) (first, second *SignedCheckpoint, err error) {
	return moved.VerifyEvidence(e, logVerifier)
}

// VerifyInclusion is [moved.VerifyInclusion].
func VerifyInclusion(index, size uint64, leafHash, root Hash, p []Hash) error {
	return moved.VerifyInclusion(index, size, leafHash, root, p)
}

// WitnessAlgEd25519 is [moved.WitnessAlgEd25519].
const WitnessAlgEd25519 = moved.WitnessAlgEd25519

// WitnessAlgMLDSA44 is [moved.WitnessAlgMLDSA44].
const WitnessAlgMLDSA44 = moved.WitnessAlgMLDSA44
