#!/usr/bin/env bash
# ensure-db.sh finds or starts the MySQL/MariaDB server htlog uses, writes
# var/db.env and prints the Go DSN (without a database name) on stdout.
#
# Order: (1) the configured server (HTLOG_DB_HOST/PORT/USER/PASSWORD, default
# 127.0.0.1:3306 root without password) if it answers; (2) a private mariadbd
# with its data in var/mariadb on 127.0.0.1:3307; (3) as root on Debian/Ubuntu,
# install mariadb-server with apt and do (2); otherwise exit 1 saying what to do.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
mkdir -p var

host=${HTLOG_DB_HOST:-127.0.0.1}
port=${HTLOG_DB_PORT:-3306}
user=${HTLOG_DB_USER:-root}
password=${HTLOG_DB_PASSWORD:-}
private_port=${HTLOG_PRIVATE_DB_PORT:-3307}
private_dir=$root/var/mariadb

say() { echo "ensure-db: $*" >&2; }

client() {
	if command -v mariadb >/dev/null 2>&1; then echo mariadb; elif command -v mysql >/dev/null 2>&1; then echo mysql; fi
}

# answers HOST PORT: true if a server accepts our credentials there.
answers() {
	local c
	c=$(client)
	if [ -n "$c" ]; then
		MYSQL_PWD=$password "$c" --protocol=TCP -h "$1" -P "$2" -u "$user" --connect-timeout=3 -e 'SELECT 1' >/dev/null 2>&1
	else
		go run ./cmd/internal/dbping "$user:$password@tcp($1:$2)/" >/dev/null 2>&1
	fi
}

write_env() {
	local dsn="$user:$password@tcp($1:$2)/"
	cat >var/db.env <<ENV
HTLOG_DB_HOST=$1
HTLOG_DB_PORT=$2
HTLOG_DB_USER=$user
HTLOG_DB_PASSWORD=$password
HTLOG_DSN='$dsn'
ENV
	echo "$dsn"
}

if answers "$host" "$port"; then
	write_env "$host" "$port"
	exit 0
fi
say "no database answers at $host:$port as $user; trying a private mariadbd in var/mariadb"

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing mariadb-server with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2 && apt-get install -y -qq mariadb-server mariadb-client >&2
	else
		say "MariaDB is not installed and I cannot install it (not root, or no apt-get)."
		say "Fix: install MariaDB 10.11+ (Debian/Ubuntu: sudo apt-get install mariadb-server), or point htlog at a"
		say "running server with HTLOG_DB_HOST, HTLOG_DB_PORT, HTLOG_DB_USER and HTLOG_DB_PASSWORD."
		exit 1
	fi
fi
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)

user=root
password=
if answers 127.0.0.1 "$private_port"; then
	write_env 127.0.0.1 "$private_port"
	exit 0
fi
mkdir -p "$private_dir"
if [ ! -d "$private_dir/data/mysql" ]; then
	say "initialising a private database in $private_dir/data"
	mariadb-install-db --no-defaults --datadir="$private_dir/data" --auth-root-authentication-method=normal \
		--skip-test-db --user="$(id -un)" >"$private_dir/install.log" 2>&1 || {
		say "mariadb-install-db failed; see $private_dir/install.log"
		exit 1
	}
fi
say "starting a private mariadbd on 127.0.0.1:$private_port (log: $private_dir/mariadbd.log)"
setsid nohup "$mariadbd" --no-defaults --datadir="$private_dir/data" --port="$private_port" --bind-address=127.0.0.1 \
	--socket="$private_dir/mariadbd.sock" --pid-file="$private_dir/mariadbd.pid" --user="$(id -un)" \
	--log-error="$private_dir/mariadbd.log" --max-connections=500 --max-allowed-packet=1G \
	--innodb-buffer-pool-size=1G --innodb-log-file-size=1G >/dev/null 2>&1 </dev/null &
for _ in $(seq 1 60); do
	if answers 127.0.0.1 "$private_port"; then
		write_env 127.0.0.1 "$private_port"
		exit 0
	fi
	sleep 0.5
done
say "the private mariadbd did not answer within 30s; see $private_dir/mariadbd.log"
exit 1
