// Package personality is htlog's log server: a Trillian personality that
// accepts signed healthcare events and publishes them as a C2SP
// transparency log.
//
// The flow through its subpackages:
//
//	submit      size, kind, schema, submitter, signature, rate limit, dedup -> queue in Trillian
//	logbackend  the narrow view of Trillian the personality needs (and an in-memory twin)
//	checkpoint  read Trillian's root, prove it consistent, sign, collect witness
//	            cosignatures, publish once the witness policy is met
//	tiles       integrate sequenced leaves into hash tiles, entry bundles and the
//	            event and tag indexes, and serve them (tlog-tiles, proofs, lookups)
//	server      the HTTP API that ties them together
//
// The personality keeps no state in memory that another replica would need:
// everything durable is in Trillian or in htlog's own MariaDB tables, so
// replicas run behind a load balancer. Only one replica at a time signs
// checkpoints and integrates tiles (a database lease decides which).
package personality
