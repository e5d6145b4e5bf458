// Command dbping exits 0 if the MySQL/MariaDB server named by the DSN in its
// first argument accepts a connection, and 1 otherwise. ensure-db.sh uses it
// when no mysql client is installed.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dbping 'user:password@tcp(host:port)/'")
		os.Exit(2)
	}
	db, err := sql.Open("mysql", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbping:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dbping:", err)
		os.Exit(1)
	}
}
