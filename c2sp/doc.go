// Package c2sp implements the C2SP wire formats that every htlog component
// speaks: the log, the witnesses, the monitors and the clients.
//
// # Where it sits in the flow
//
// The personality signs checkpoints (tlog-checkpoint inside a signed-note),
// sends them to witnesses (tlog-witness add-checkpoint bodies), collects their
// cosignatures (tlog-cosignature), publishes tiles (tlog-tiles) and hands
// submitters offline proofs (tlog-proof). Witnesses parse add-checkpoint
// bodies; monitors and clients parse checkpoints, tiles and proofs and judge
// them against a policy (tlog-policy). Keeping the formats in one package means
// each byte on the wire has exactly one parser.
//
// # Strictness
//
// Everything here parses input from strangers, so parsing is strict where the
// specs allow it to be: decimals must be canonical (no leading zeros, no sign),
// hashes must be exactly 32 bytes, lines must end in a newline, and nothing
// unexpected may trail. Parsers never panic; they are fuzzed.
//
// # Keys
//
// Log keys are Ed25519 signed-note keys whose name is the log's origin. Witness
// keys are tlog-cosignature keys: Ed25519 (vkey type 0x04) or ML-DSA-44 (vkey
// type 0x06, which the spec recommends for new deployments; its signature
// lines are about 3.3 KB, which is why MaxCheckpointSize leaves room for
// them). Both are handled by golang.org/x/mod/sumdb/note and
// github.com/transparency-dev/formats/note; this package adds the checks
// those leave to the caller.
package c2sp
