// Package dbopen opens a daemon's MySQL/MariaDB database from its DSN,
// creating the database if the server has none of that name yet, so that a
// fresh server needs no manual setup. The daemons then apply their own schema.
//
// The link is encrypted when the DSN says so (tls=true, skip-verify or
// preferred, go-sql-driver's parameter) or when the daemon passes a
// tls.Config (database.tls: a private CA, a server name, a client
// certificate); a server without TLS is then refused, never used in clear.
package dbopen

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/htlog/htlog/cmd/internal/tlsconfig"
	"log/slog"
)

var dbName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Open parses dsn (go-sql-driver form, such as
// "root@tcp(127.0.0.1:3306)/htlog_witness1"), creates the named database if
// it is missing, and returns a pool that has answered a ping. A non-nil tc
// (database.tls) makes every connection use TLS with it.
func Open(ctx context.Context, dsn string, tc *tls.Config) (*sql.DB, error) {
	cfg, err := Config(dsn, tc)
	if err != nil {
		return nil, err
	}
	server := cfg.Clone()
	server.DBName = ""
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	admin, err := openDB(server)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); errors.Is(err, mysql.ErrNoTLS) {
		return nil, fmt.Errorf("the database server %s does not offer TLS, which database.tls or the DSN's tls parameter requires; enable TLS in MariaDB (ssl_cert, ssl_key) or drop the requirement", cfg.Addr)
	} else if err != nil {
		return nil, fmt.Errorf("couldn't reach the database server %s: %v; start MariaDB or fix database.dsn", cfg.Addr, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.DBName+"`"); err != nil {
		return nil, fmt.Errorf("couldn't create database %s: %w", cfg.DBName, err)
	}
	db, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't open database %s: %w", cfg.DBName, err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(5 * time.Minute)
	return db, nil
}

// Config parses dsn and applies tc, the database.tls section: a DSN that
// names TLS settings of its own besides tc is refused as ambiguous.
func Config(dsn string, tc *tls.Config) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %v", err)
	}
	if !dbName.MatchString(cfg.DBName) {
		return nil, fmt.Errorf("database.dsn: must name a database of letters, digits and _ (such as .../htlog), got %q", cfg.DBName)
	}
	if tc != nil {
		if cfg.TLSConfig != "" && cfg.TLSConfig != "true" {
			return nil, fmt.Errorf("database.tls: the DSN's tls=%s conflicts with database.tls; keep one of them", cfg.TLSConfig)
		}
		cfg.TLS = tc.Clone()
		cfg.TLSConfig = "true"
		cfg.AllowFallbackToPlaintext = false
	}
	cfg.ParseTime = true
	cfg.MultiStatements = false
	// Arguments are escaped into the query text (the driver refuses the
	// character sets where that is unsafe) rather than sent through a
	// server-side prepared statement: one round trip per query instead of
	// three (prepare, execute, close), which the write path's batched
	// inserts of hundreds of rows feel most.
	cfg.InterpolateParams = true
	return cfg, nil
}

func openDB(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %v", err)
	}
	return sql.OpenDB(c), nil
}

// Section is a daemon's database configuration section: `database.dsn`
// and `database.tls`, the same in every daemon.
type Section struct {
	// DSN is a go-sql-driver DSN naming the database, such as
	// root@tcp(127.0.0.1:3306)/htlog; the database is created if missing.
	DSN string `mapstructure:"dsn"`
	// TLS, if set, encrypts the link to the database (a private CA, a
	// server name, a client certificate); the DSN's tls=true works too.
	TLS tlsconfig.Client `mapstructure:"tls"`
}

// Open opens the section's database (creating it if missing), over TLS if
// the section asks for it; logger may be nil.
func (s Section) Open(ctx context.Context, logger *slog.Logger) (*sql.DB, error) {
	tc, err := s.TLS.Config("database.tls", logger)
	if err != nil {
		return nil, err
	}
	return Open(ctx, s.DSN, tc)
}
