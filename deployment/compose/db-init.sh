#!/bin/sh
# htlog-db-init: create htlog's databases and apply Trillian's MySQL schema to
# the Trillian database, once. Safe to run again: databases are created only if
# missing and the schema is applied only if the Trees table does not exist yet
# (Trillian's storage.sql has CREATE INDEX statements that cannot run twice).
#
# Environment:
#   DB_HOST (mariadb), DB_PORT (3306), DB_USER (root), DB_PASSWORD (empty)
#   TRILLIAN_DATABASE (htlog_trillian)
#   DATABASES: further databases to create, space separated
#              (default: htlog htlog_monitor htlog_witness1 htlog_witness2 htlog_witness3)
#   SCHEMA (/usr/share/htlog/trillian-storage.sql), WAIT_SECONDS (120)
set -eu

DB_HOST=${DB_HOST:-mariadb}
DB_PORT=${DB_PORT:-3306}
DB_USER=${DB_USER:-root}
TRILLIAN_DATABASE=${TRILLIAN_DATABASE:-htlog_trillian}
DATABASES=${DATABASES-htlog htlog_monitor htlog_witness1 htlog_witness2 htlog_witness3}
SCHEMA=${SCHEMA:-/usr/share/htlog/trillian-storage.sql}
WAIT_SECONDS=${WAIT_SECONDS:-120}
export MYSQL_PWD="${DB_PASSWORD:-}"

client=mariadb
command -v mariadb >/dev/null 2>&1 || client=mysql
sql() { "$client" --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" --batch --skip-column-names "$@"; }

waited=0
until sql -e 'SELECT 1' >/dev/null 2>&1; do
	if [ "$waited" -ge "$WAIT_SECONDS" ]; then
		echo "db-init: no database server at $DB_HOST:$DB_PORT after ${WAIT_SECONDS}s" >&2
		exit 1
	fi
	sleep 1
	waited=$((waited + 1))
done

for db in "$TRILLIAN_DATABASE" $DATABASES; do
	case $db in
	*[!A-Za-z0-9_]*) echo "db-init: bad database name $db" >&2; exit 1 ;;
	esac
	sql -e "CREATE DATABASE IF NOT EXISTS \`$db\`"
done

have=$(sql -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$TRILLIAN_DATABASE' AND table_name = 'Trees'")
if [ "$have" = 0 ]; then
	echo "db-init: applying Trillian's schema to $TRILLIAN_DATABASE"
	sql "$TRILLIAN_DATABASE" <"$SCHEMA"
else
	echo "db-init: $TRILLIAN_DATABASE already has Trillian's schema"
fi
echo "db-init: done"
