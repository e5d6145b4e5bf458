// Package schemas is the contract for the bodies of the four healthcare event
// kinds that htlog records: access (FHIR AuditEvent), consent (FHIR Consent),
// custody (GS1 EPCIS 2.0 / DSCSA) and trial (WHO Trial Registration Data Set).
//
// Each kind has one JSON Schema (draft 2020-12) per version. The schemas are
// embedded in the binary, validated against at submission time by [Validator],
// and served verbatim at the stable URL named by their $id,
// https://htlog.dev/schemas/<kind>/v<N>.json, so that submitters, monitors and
// auditors all check against exactly the same bytes. A published version is
// never edited; changes are made by adding a new version.
//
// The schemas describe the event body only; the signed envelope (kind, event
// id, submitter, occurred_at, supersedes, signature) is defined elsewhere.
//
// Privacy is part of the contract. Identifiers of people and serial numbers
// must be pseudonymous tags ("tag:v1:" + 64 lowercase hex, JSON Schema format
// "htlog-tag") and sensitive details must be commitments ("commit:v1:" + 64
// lowercase hex, format "htlog-commitment"). The validator asserts both
// formats, so a medical record number in clear is rejected.
//
// Choices worth knowing:
//
//   - Each schema file is self-contained: the shared definitions (tag,
//     commitment, event id, organisation id, coding, period) are repeated in
//     its $defs, so every served document can be used on its own, and the
//     validator never fetches anything over the network. A generic JSON
//     Schema validator treats the two htlog formats as annotations unless
//     told about them; this package is the authoritative check.
//   - Every object sets additionalProperties to false: a field that is not in
//     the contract cannot carry personal data past the checks.
//   - Bodies are parsed strictly: exactly one JSON object, valid UTF-8, no
//     duplicate member names, bounded nesting, at most [MaxBodySize] bytes.
//   - A [ValidationError] names one field, chosen deterministically, and its
//     reason never repeats the offending value, so it is safe to log.
//   - Timestamps are RFC 3339 date-time; calendar dates (expiry, trial dates)
//     are RFC 3339 full-date. Coded values are enums of the standards' codes.
//   - The event time is the envelope's occurred_at; bodies carry only other
//     dates (consent period, trial dates, product expiry).
//   - Versions 2 and 3 are admitted side by side ([MinAdmitted] to
//     [Latest]). Version 3 carries what FHIR AuditEvent and Consent, EPCIS
//     2.0 / CBV 2.0 with the DSCSA, and the WHO Trial Registration Data Set
//     1.3.1 say that the monitor's rules need, with no free text at all:
//     large terminologies (ICD-10, SNOMED CT, MeSH, LOINC, ATC, RxNorm,
//     UNII) are checked for syntax by the "htlog-coding:<kind>" formats.
//     An event whose builder names no version gets version 2 ([Default]).
//   - Examples: examples/<kind> for version 2, examples/v3/<kind> for
//     version 3, examples/v1/<kind> for version 1.
package schemas
