// Package client is the public Go client of an htlog log: what a hospital's
// EHR, a pharmacy system, a patient's app or an auditor's script uses to talk
// to htlog-server without trusting it.
//
// # Place in the flow
//
// Submitters build and sign events with an [event.Builder] (package
// github.com/htlog/htlog/event) and hand the envelope to [Client.Submit],
// which POSTs it to /add-event, retries safely (the log deduplicates, so the
// same bytes always get the same index) and returns the receipt: a C2SP
// tlog-proof, verified against the client's witness policy before it is
// returned. Everyone else reads: [Client.Checkpoint] fetches the
// latest checkpoint and verifies the log's signature and the witness quorum;
// a [Keeper] remembers the newest verified checkpoint and only moves forward,
// proving each step consistent from the log's tiles and returning a
// [ForkError] carrying split-view evidence when the log contradicts itself;
// [Client.VerifyInclusion] proves an entry is in a verified checkpoint from
// tiles; [Client.Lookup] finds a patient's events by pseudonymous tag and
// verifies each one's proof. [VerifyProofFile] checks a receipt offline, with
// nothing but the policy and the entry.
//
// # Patients
//
// A custodian hands each patient a [PatientBundle] (ParsePatientBundle,
// Marshal): the log, the custodian, the patient's tag key, the witness
// policy and the monitors the patient trusts. [Client.Registry] fetches the
// log's submitter registry, a note signed by the log's key, and verifies it
// with the policy ([VerifyRegistry]), so that organisation names come from
// the log's word, not the client's; [FetchVerdicts] asks a monitor what it
// found about entries and verifies its signature ([OpenVerdicts]).
// [Describe], [VerdictText] and [InLogText] tell an event in plain language
// (value-set words, local time, break-glass and disclosures marked, "in the
// log" kept apart from the monitors' verdicts); [Describer] puts them
// together for htlog lookup and htlog watch, and web/htlog.js says the same
// in the browser.
//
// # What the client trusts
//
// Only the [c2sp.Policy]: the log's public key and the witnesses' keys and
// quorum. Proofs are recomputed from tlog-tiles (hash tiles are checked
// against the verified root as they are read), never taken from the
// server's /proof endpoints. What no client can check alone: that a lookup
// returned every matching event (the log may withhold some; monitors replay
// the whole log for that), and the submitter's signature on an event, which
// needs the submitter registry.
//
// # Packages
//
// Everything the client's API takes and returns is in public packages: the
// C2SP formats (policy, checkpoint, tlog-proof, split-view evidence,
// inclusion promise) in github.com/htlog/htlog/c2sp, the signed event in
// github.com/htlog/htlog/event. docs/client.md walks a hospital's program
// through them.
//
// # Errors
//
// Errors are typed so that callers (and the htlog command's exit codes) can
// tell the cases apart: [*HTTPError] is a 4xx refusal with the log's one-line
// reason; [*UnavailableError] means the log could not be reached or stayed
// overloaded until the context ended; every verification failure wraps
// [ErrNotVerified], and additionally [c2sp.ErrQuorumNotMet] or
// [c2sp.ErrUnknownLog] when that is the reason; [*ForkError] carries
// evidence of a split view.
package client
