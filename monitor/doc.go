// Package monitor is htlog-monitor, the regulator's and auditor's view of an
// htlog log (docs/monitor.md, docs/architecture.md). It follows the log over
// C2SP tlog-tiles as a stranger would:
//
//   - Follow: fetch /checkpoint, verify the log's signature (and, with a
//     tlog-policy, the witness quorum), prove it consistent with the last
//     checkpoint confirmed, download the new entry bundles, recompute every
//     leaf hash, replay the tree in a compact range and check the root.
//   - Check every checkpoint heard of — the log's, each witness's monitoring
//     endpoint, pollinated ones and those in posted tlog-proofs — against the
//     replayed tree, whatever its size: same size by root, smaller sizes by a
//     consistency proof read from tiles verified against the replayed root,
//     larger ones once the replay gets there. Two validly signed
//     checkpoints that cannot both be true become a splitview.Evidence bundle,
//     written to disk, served at /evidence and posted to webhooks.
//   - Verify every entry (entrycheck) and run the compliance rules (rules).
//
// Everything durable (position, compact range, rules' state, checkpoints,
// findings, evidence) lives in a store.Store, committed once per round, so
// a restart resumes where the last round ended. The rules' state is kept as
// rows (one per consent, package, trial, agent and held event, plus each
// rule's scalars: rules/state.go); a commit writes the rows changed since
// the last save, in the same transaction as the position they were taken
// at, so a save costs what changed and never the whole state. Anything wrong the log
// serves is a finding, never a crash; a log that is down is retried.
package monitor
