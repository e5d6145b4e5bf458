// Package gateway is htlog-gateway, the daemon a submitter runs inside its
// own network: it takes the documents its systems already emit (FHIR
// AuditEvent and Consent, GS1 EPCIS 2.0 events, WHO TRDS trial
// registrations), maps each to an htlog event (package mapping and the
// per-standard packages fhir, epcis and trds), replaces identifiers by tags
// under per-patient and per-package keys and sensitive values by
// commitments (package store keeps keys and openings in MariaDB), signs,
// persists before answering, and submits to the log in order, with retries
// and without duplicates (package outbox). Package server is its HTTP API.
//
// The flow of one accepted document:
//
//	POST -> parse (fhir|epcis|trds) -> map (tags, commitments) -> sign ->
//	admission pre-check (the log's own code) -> store (one transaction) ->
//	201/202 -> outbox: add-event (async) -> promise -> receipt (tlog-proof)
package gateway
