// Command trilliandb prepares Trillian's database for the local stack: it
// creates the database named in the DSN if missing and applies Trillian's
// schema (the storage.sql of the pinned module) unless its Trees table
// already exists, so running it again changes nothing.
//
//	trilliandb 'root@tcp(127.0.0.1:3306)/htlog_trillian' path/to/storage.sql
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/htlog/htlog/cmd/internal/dbopen"
	"github.com/htlog/htlog/internal/sqlschema"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: trilliandb <dsn with database> <storage.sql>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "trilliandb:", err)
		os.Exit(1)
	}
}

func run(dsn, schemaPath string) error {
	ctx := context.Background()
	db, err := dbopen.Open(ctx, dsn, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'Trees'").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	return sqlschema.Apply(ctx, db, string(schema))
}
