#!/usr/bin/env bash
# down.sh stops what up.sh started (in reverse order), then the private
# mariadbd if ensure-db.sh started one. A shared database is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
run=var/run
stopped=0
for name in htlog-gateway htlog-monitor htlog-server witness3 witness2 witness1 trillian_log_signer trillian_log_server; do
	p=$run/$name.pid
	[ -f "$p" ] || continue
	pid=$(cat "$p")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		echo "down: stopped $name (pid $pid)"
		stopped=$((stopped + 1))
	fi
	rm -f "$p"
done
[ "$stopped" -gt 0 ] || echo "down: nothing was running"
deployment/local/stop-db.sh
