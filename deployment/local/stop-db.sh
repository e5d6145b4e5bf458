#!/usr/bin/env bash
# stop-db.sh stops the private mariadbd that ensure-db.sh started, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/../.."
pidfile=var/mariadb/mariadbd.pid
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "no private mariadbd is running (the shared database, if any, is left alone)"
	exit 0
fi
pid=$(cat "$pidfile")
kill "$pid"
for _ in $(seq 1 60); do
	kill -0 "$pid" 2>/dev/null || { echo "stopped the private mariadbd (pid $pid)"; exit 0; }
	sleep 0.5
done
echo "the private mariadbd (pid $pid) did not stop within 30s" >&2
exit 1
