// Package personality is htlog's log server: a Trillian personality that
// accepts signed healthcare events and publishes them as a C2SP
// transparency log.
//
// The flow through its subpackages:
//
//	submit      admission check, trial claims, rate limit -> append (the acknowledgement)
//	batch       group commit: concurrent appends in one MariaDB transaction
//	tiles       the sequence (entries, event and tag indexes, deduplicated under
//	            one lock), integration into stored hashes with the root computed
//	            from the entries, and the reads (tlog-tiles, proofs, lookups)
//	checkpoint  integrate, feed Trillian's PREORDERED_LOG tree, check its root
//	            against htlog's, sign, collect witness cosignatures, publish once
//	            the witness policy is met
//	logbackend  the narrow view of Trillian the personality needs (and an in-memory twin)
//	server      the HTTP API that ties them together, and the merge guard
//
// The personality keeps no state in memory that another replica would need:
// everything durable is in htlog's own MariaDB tables (and Trillian's copy),
// so replicas run behind a load balancer and any of them appends. Only one
// replica at a time integrates, feeds Trillian and signs checkpoints (a
// database lease decides which).
package personality
