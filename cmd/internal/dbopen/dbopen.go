// Package dbopen opens a daemon's MySQL/MariaDB database from its DSN,
// creating the database if the server has none of that name yet, so that a
// fresh server needs no manual setup. The daemons then apply their own schema.
package dbopen

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
)

var dbName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Open parses dsn (go-sql-driver form, such as
// "root@tcp(127.0.0.1:3306)/htlog_witness1"), creates the named database if
// it is missing, and returns a pool that has answered a ping.
func Open(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %v", err)
	}
	if !dbName.MatchString(cfg.DBName) {
		return nil, fmt.Errorf("database.dsn: must name a database of letters, digits and _ (such as .../htlog), got %q", cfg.DBName)
	}
	cfg.ParseTime = true
	cfg.MultiStatements = false
	server := cfg.Clone()
	server.DBName = ""
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	admin, err := sql.Open("mysql", server.FormatDSN())
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("couldn't reach the database server %s: %v; start MariaDB or fix database.dsn", cfg.Addr, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.DBName+"`"); err != nil {
		return nil, fmt.Errorf("couldn't create database %s: %w", cfg.DBName, err)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
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
