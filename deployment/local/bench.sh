#!/usr/bin/env bash
# bench.sh runs htlog-hammer against the local stack (started if needed) beside
# the raw-Trillian baseline on the same log server and MariaDB, and writes the
# results into docs/performance.md between the bench markers.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-20s}
WORKERS=${WORKERS:-64}
curl -fsS -o /dev/null http://127.0.0.1:8080/healthz 2>/dev/null || deployment/local/up.sh >/dev/null
# The monitor belongs to a regulator on its own machine; here it would share
# the two cores with the log, so it is paused (SIGSTOP) during the runs and
# resumed after, catching up from where it was.
if [ -f var/run/htlog-monitor.pid ] && kill -0 "$(cat var/run/htlog-monitor.pid)" 2>/dev/null; then
	monitor_pid=$(cat var/run/htlog-monitor.pid)
	kill -STOP "$monitor_pid"
	trap 'kill -CONT "$monitor_pid"' EXIT
fi
subs=()
for i in 1 2 3 4 5 6 7 8; do subs+=(--submitter "npi:900000000$i=var/keys/hammer$i.key"); done

# drain waits until the log has published everything queued so far (its
# checkpoint size is unchanged for 5 s), so one run's backlog in Trillian's
# signer does not slow the next.
drain() {
	local last=-1 size stable=0
	for _ in $(seq 1 120); do
		size=$(curl -fsS http://127.0.0.1:8080/checkpoint | sed -n 2p)
		if [ "$size" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
		[ "$stable" -ge 5 ] && return 0
		last=$size
		sleep 1
	done
}

drain
echo "bench: htlog add-event, async ($DURATION, $WORKERS workers)"
async=$(bin/htlog-hammer "${subs[@]}" --mode async --duration "$DURATION" --workers "$WORKERS")
echo "$async"
max=$(echo "$async" | awk '{print $2}')
half=$(awk -v m="$max" 'BEGIN{printf "%d", m/2}')
drain
echo "bench: htlog add-event, sync (receipt = cosigned checkpoint) at half of max: $half/s"
sync=$(bin/htlog-hammer "${subs[@]}" --mode sync --rate "$half" --duration "$DURATION" --workers 1024)
echo "$sync"
drain
echo "bench: raw Trillian QueueLeaf baseline ($DURATION, $WORKERS workers, 2.2 KB leaves like htlog's envelopes)"
# The baseline tree is kept between runs (var/bench-tree-id) so that it grows
# like the htlog tree does: QueueLeaf costs a little more on a bigger tree.
tree_args=()
[ -s var/bench-tree-id ] && tree_args=(--tree-id "$(cat var/bench-tree-id)")
raw=$(bin/htlog-hammer --raw "${tree_args[@]}" --leaf-size 2200 --duration "$DURATION" --workers "$WORKERS" 2>var/log/bench-raw.log)
[ -s var/bench-tree-id ] || grep -o 'baseline tree [0-9]*' var/log/bench-raw.log | awk '{print $3}' >var/bench-tree-id
echo "$raw"
rawrate=$(echo "$raw" | awk '{print $2}')
ratio=$(awk -v a="$max" -v r="$rawrate" 'BEGIN{printf "%.0f", 100*a/r}')

block=$(cat <<MD
<!-- bench:start -->
Measured $(date -u +%Y-%m-%d) with \`make bench\` (DURATION=$DURATION WORKERS=$WORKERS) on the local stack: one
MariaDB, Trillian log server and signer, htlog-server, three witnesses (2-of-3 policy) and the hammer itself, all
sharing this 2-core machine (the monitor is paused during the runs: a regulator runs it elsewhere).

| run | accepted/s | p50 | p95 | p99 |
|---|---|---|---|---|
| raw Trillian QueueLeaf (baseline, 2.2 KB leaves, same log server and MariaDB) | $(echo "$raw" | awk '{print $2" | "$13" ms | "$16" ms | "$19" ms"}') |
| htlog async (full checks, ack after durable queueing, signed promise) | $(echo "$async" | awk '{print $2" | "$13" ms | "$16" ms | "$19" ms"}') |
| htlog sync at half of max ($half/s target; latency to the cosigned receipt) | $(echo "$sync" | awk '{print $2" | "$13" ms | "$16" ms | "$19" ms"}') |

htlog async reaches ${ratio}% of the raw Trillian rate (target >= 95%); receipt p99 at half load is in the last row
(target <= 2 s).
<!-- bench:end -->
MD
)
python3 - "$block" <<'PY'
import re, sys
p = "docs/performance.md"
s = open(p).read()
block = sys.argv[1]
if "<!-- bench:start -->" in s:
    s = re.sub(r"<!-- bench:start -->.*?<!-- bench:end -->", lambda m: block, s, flags=re.S)
else:
    s += "\n## Log: submissions (`make bench`)\n\n" + block + "\n"
open(p, "w").write(s)
PY
echo "bench: results written to docs/performance.md"
