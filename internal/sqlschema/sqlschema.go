// Package sqlschema applies SQL schema files, such as Trillian's
// storage.sql, statement by statement over a database/sql connection, for
// the local stack (cmd/internal/trilliandb) and the tests.
package sqlschema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Apply runs the statements of a schema file (separated by semicolons at the
// ends of lines) against db.
func Apply(ctx context.Context, db *sql.DB, schema string) error {
	for _, stmt := range Split(schema) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			l, _, _ := strings.Cut(stmt, "\n")
			return fmt.Errorf("couldn't apply %q: %w", l, err)
		}
	}
	return nil
}

// Split splits a schema file into statements, dropping comment lines.
func Split(schema string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(schema, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") || strings.HasPrefix(trimmed, "#") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
