// Package witness is htlog's witness: run by an independent party (another
// hospital, a university, a patient organisation), it cosigns a log's
// checkpoints only after checking that each is consistent with the last one
// it cosigned, so a log cannot show different histories to different people
// without a witness noticing.
//
// # Where it sits in the flow
//
// The personality (or any C2SP log) POSTs add-checkpoint requests; in pull
// mode the witness fetches checkpoints and tiles itself. Both paths go through
// the same state machine (Witness.AddCheckpoint), whose state lives in a Store:
// per origin, the latest cosigned checkpoint. Peers and monitors read that
// state from the monitoring endpoint and pollinate checkpoints they have seen;
// a checkpoint that contradicts the witness's view becomes split-view
// evidence anyone can verify with the log's key.
//
// # Guarantees
//
// The check of the request's old size against the stored state and the state
// update are one compare-and-swap, committed before the cosignature leaves the
// witness. So two racing requests cannot both advance the state, a crash never
// leaves a cosignature without its state, and the witness never cosigns a
// rollback or a fork of anything it cosigned before. State is never deleted by
// configuration changes: removing and re-adding a log keeps its history.
package witness
