package testonly

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/sqlschema"

	"github.com/go-sql-driver/mysql"
)

// RequireIntegration skips the test unless HTLOG_INTEGRATION=1, which `make
// test` sets. Call it first in every test that needs MariaDB or Trillian.
func RequireIntegration(t testing.TB) {
	t.Helper()
	if os.Getenv("HTLOG_INTEGRATION") != "1" {
		t.Skip("integration test: needs MariaDB and Trillian; run `make test` (sets HTLOG_INTEGRATION=1)")
	}
}

// BaseDSN returns the DSN of the test database server, without a database name.
func BaseDSN() string {
	if dsn := os.Getenv("HTLOG_TEST_DSN"); dsn != "" {
		return dsn
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// DSNFor returns BaseDSN with the database name set and parseTime enabled.
func DSNFor(t testing.TB, dbName string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(BaseDSN())
	if err != nil {
		t.Fatalf("HTLOG_TEST_DSN %q is not a valid DSN: %v", BaseDSN(), err)
	}
	cfg.DBName = dbName
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// NewDatabase creates a uniquely named database (prefix_<random>) on the test
// server and drops it when the test ends. It returns the database's DSN, with
// parseTime=true.
func NewDatabase(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.ReplaceAll(prefix, "-", "_") + "_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("mysql", BaseDSN())
	if err != nil {
		t.Fatalf("couldn't open test database server %q: %v", BaseDSN(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		admin.Close()
		t.Fatalf("couldn't create database %s on %s: %v (is MariaDB running? `make db` starts one)", name, BaseDSN(), err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("couldn't drop test database %s: %v", name, err)
		}
	})
	return DSNFor(t, name)
}

// OpenDB opens a DSN and closes it when the test ends.
func OpenDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("couldn't open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ApplySQL runs the statements of a schema file against db.
func ApplySQL(ctx context.Context, db *sql.DB, schema string) error {
	return sqlschema.Apply(ctx, db, schema)
}

// Missing reports a tool or file the test needs and cannot find: it fails
// the test under HTLOG_INTEGRATION=1 (CI installs everything, so nothing
// may hide there) and skips it otherwise, saying what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("HTLOG_INTEGRATION") == "1" {
		t.Fatal(what)
	}
	t.Skip(what)
}

// LookPath returns the path of the program name, or reports it Missing
// (with the Debian package that provides it).
func LookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, fmt.Sprintf("%s is not installed (Debian package %s; .ci/run installs it)", name, pkg))
	}
	return p
}
