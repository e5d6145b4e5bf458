// Package testonly is htlog's one test harness: it creates uniquely named
// MariaDB databases, starts real Trillian log servers and signers (the
// binaries built from the version pinned in go.mod), and makes keys.
//
// Unit tests need none of it. Integration tests begin with
// RequireIntegration(t), which skips them unless HTLOG_INTEGRATION=1; `make
// test` (and so CI) always sets it, so in CI they always run.
//
// The database server is HTLOG_TEST_DSN (default root@tcp(127.0.0.1:3306)/);
// the Trillian binaries are in HTLOG_BIN (default <repository>/bin, built by
// `make trillian`).
package testonly
