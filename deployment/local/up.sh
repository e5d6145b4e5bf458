#!/usr/bin/env bash
# up.sh brings up the whole htlog system on this machine: MariaDB (found or
# started), Trillian's log server and signer, htlog-server, three witnesses,
# the monitor (if built) and the demo hospital's gateway, waits until each is healthy, then prints every
# endpoint, the log's origin and vkey, and where the logs are.
# `make down` stops it. State lives in var/ (keys, configs, logs, pids).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=$root/bin
run=$root/var/run
logs=$root/var/log
keys=$root/var/keys
conf=$root/var/config
mkdir -p "$run" "$logs" "$keys" "$conf"

say() { echo "up: $*"; }
die() { echo "up: $*" >&2; exit 1; }

for p in "$run"/*.pid; do
	[ -e "$p" ] || continue
	if kill -0 "$(cat "$p")" 2>/dev/null; then
		die "htlog is already running ($(basename "$p" .pid) has pid $(cat "$p")); run \`make down\` first"
	fi
	rm -f "$p"
done

dsn=$(deployment/local/ensure-db.sh)   # user:password@tcp(host:port)/
. var/db.env
c=$(command -v mariadb || command -v mysql || true)
# The log writes every entry to htlog's tables and to Trillian's: with
# MariaDB's default 128 MiB buffer pool and 96 MiB redo log, a log of a few
# hundred thousand entries no longer fits and each write waits for the
# disk. Give InnoDB what the load needs (both settings are dynamic in
# MariaDB 10.9+ and MySQL 8; not persistent: set them in the server's
# configuration for good, docs/operations.md). HTLOG_DB_TUNE=0 leaves the
# server as it is.
if [ "${HTLOG_DB_TUNE:-1}" = 1 ] && [ -n "${c:-}" ]; then
	mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo 2>/dev/null || echo 0)
	pool=$((mem_kb * 1024 / 4)) # a quarter of the RAM, at least 1 GiB, at most 4 GiB
	pool=$((pool < 1073741824 ? 1073741824 : pool > 4294967296 ? 4294967296 : pool))
	if ! MYSQL_PWD=$HTLOG_DB_PASSWORD "$c" --protocol=TCP -h "$HTLOG_DB_HOST" -P "$HTLOG_DB_PORT" -u "$HTLOG_DB_USER" -e \
		"SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, $pool); SET GLOBAL innodb_log_file_size = GREATEST(@@innodb_log_file_size, 1073741824)" 2>/dev/null; then
		echo "up: couldn't size the database's buffer pool and redo log for the load (docs/operations.md); htlog runs, more slowly" >&2
	fi
fi
origin=htlog.localhost/log1

# Keys, made once and kept: a log key is never regenerated for an origin.
[ -f "$keys/log.key" ] || "$bin/htlog" keygen --kind log --name "$origin" --out "$keys/log.key" >/dev/null
for i in 1 2 3; do
	[ -f "$keys/witness$i.key" ] || "$bin/htlog" keygen --kind witness --name "witness$i.htlog.localhost" --out "$keys/witness$i.key" >/dev/null
done
# The monitor signs its verdicts (patients' pages and htlog watch check them);
# the regulator signs in to the dashboard with a token to triage findings.
[ -f "$keys/monitor.key" ] || "$bin/htlog" keygen --kind log --name monitor.htlog.localhost --out "$keys/monitor.key" >/dev/null
[ -f "$keys/regulator.token" ] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$keys/regulator.token")
[ -f "$keys/hospital.key" ] || "$bin/htlog" keygen --kind submitter --name "General Hospital" --out "$keys/hospital.key" >/dev/null
for i in 1 2 3 4 5 6 7 8; do # load-test submitters for `make bench`
	[ -f "$keys/hammer$i.key" ] || "$bin/htlog" keygen --kind submitter --name "hammer $i" --out "$keys/hammer$i.key" >/dev/null
done
# The demo hospital's htlog-gateway: its key for staff tags, and the token of
# its internal API (patient bundles).
[ -f "$keys/gateway-workforce.key" ] || "$bin/htlog" tag --new-key "$keys/gateway-workforce.key" >/dev/null
[ -f "$keys/gateway.token" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$keys/gateway.token")
log_vkey=$(cat "$keys/log.key.pub")
# Databases are named after this checkout's log key, so another checkout on
# the same MariaDB (with its own keys) never finds checkpoints it cannot verify.
inst=$(printf '%s' "$log_vkey" | sha256sum | cut -c1-8)

# Configuration.
cat >"$conf/policy.txt" <<POLICY
# C2SP tlog-policy: the local log, three witnesses, any two of them.
log $log_vkey http://127.0.0.1:8080
witness w1 $(cat "$keys/witness1.key.pub") http://127.0.0.1:8181
witness w2 $(cat "$keys/witness2.key.pub") http://127.0.0.1:8182
witness w3 $(cat "$keys/witness3.key.pub") http://127.0.0.1:8183
group quorum 2 w1 w2 w3
quorum quorum
POLICY
# Every submitter may act for the organisations, source systems and GS1
# locations that the schemas' examples name (the hammer submits them).
rights='    acts_for: [gln:0614141123452]
    source_systems: [ehr-fhir, ed-triage-01, elr-gateway]
    gs1_company_prefixes: ["0361414", "0614141"]'
cat >"$conf/submitters.yaml" <<YAML
submitters:
  - org: npi:1234567893
    name: General Hospital
    kinds: [access, consent, custody, trial]
$rights
    keys:
      - public_key_file: $keys/hospital.key.pub
$(for n in 1900000013 1900000021 1900000039 1900000047 1900000054 1900000062 1900000070 1900000088; do printf '  - org: npi:%s\n    name: load test %s\n    kinds: [access, consent, custody, trial]\n    acts_for: [npi:1234567893, gln:0614141123452]\n    source_systems: [ehr-fhir, ed-triage-01, elr-gateway]\n    gs1_company_prefixes: ["0361414", "0614141"]\n    keys: [{public_key_file: %s}]\n' "$n" "${n: -2:1}" "$keys/hammer${n: -2:1}.key.pub"; done)
YAML
cat >"$conf/server.yaml" <<YAML
listen: 127.0.0.1:8080
origin: $origin
key_file: $keys/log.key
database: {dsn: '${dsn}htlog_${inst}'}
trillian: {address: 127.0.0.1:8090}
checkpoint_interval: 1s
policy_file: $conf/policy.txt
witness_timeout: 3s
submitters_file: $conf/submitters.yaml
YAML
for i in 1 2 3; do
	peers=""
	for j in 1 2 3; do [ "$i" = "$j" ] || peers="$peers, 'http://127.0.0.1:818$j'"; done
	cat >"$conf/witness$i.yaml" <<YAML
listen: 127.0.0.1:818$i
database: {dsn: '${dsn}htlog_witness${i}_${inst}'}
key_file: $keys/witness$i.key
logs: [{origin: $origin, vkey_file: $keys/log.key.pub, url: 'http://127.0.0.1:8080'}]
peers: [${peers#, }]
gossip_interval: 10s
YAML
done

cat >"$conf/gateway.yaml" <<YAML
listen: 127.0.0.1:8480
database: {dsn: '${dsn}htlog_gateway_${inst}'}
log: http://127.0.0.1:8080
policy_file: $conf/policy.txt
org: npi:1234567893
key_file: $keys/hospital.key
workforce_key_file: $keys/gateway-workforce.key
registry_file: $conf/submitters.yaml
source_system: ehr-fhir
default_purpose_of_use: TREAT
default_agent_role: "http://terminology.hl7.org/CodeSystem/practitioner-role|doctor"
token_file: $keys/gateway.token
monitors: [{url: 'http://127.0.0.1:8280', vkey: '$(cat "$keys/monitor.key.pub")'}]
YAML

# Trillian's database and schema (idempotent).
trillian_dir=$(go list -m -f '{{.Dir}}' github.com/google/trillian)
go run ./cmd/internal/trilliandb "${dsn}htlog_trillian" "$trillian_dir/storage/mysql/schema/storage.sql"

start() { # name command...
	local name=$1; shift
	nohup "$@" >>"$logs/$name.log" 2>&1 &
	echo $! >"$run/$name.pid"
}
wait_for() { # name url
	for _ in $(seq 1 120); do
		if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
		if ! kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; then
			tail -5 "$logs/$1.log" >&2; die "$1 exited; see $logs/$1.log"
		fi
		sleep 0.5
	done
	die "$1 did not become healthy at $2; see $logs/$1.log"
}

# Arguments interpolated by the driver: one round trip per statement instead
# of three (prepare, execute, close), which Trillian's per-leaf inserts feel.
trillian_uri="${dsn}htlog_trillian?interpolateParams=true"
start trillian_log_server "$bin/trillian_log_server" --storage_system=mysql --quota_system=noop \
	--mysql_uri="$trillian_uri" --rpc_endpoint=127.0.0.1:8090 --http_endpoint=127.0.0.1:8091
start trillian_log_signer "$bin/trillian_log_signer" --storage_system=mysql --quota_system=noop \
	--mysql_uri="$trillian_uri" --force_master --sequencer_interval=100ms --batch_size=1000 \
	--rpc_endpoint=127.0.0.1:8093 --http_endpoint=127.0.0.1:8092
wait_for trillian_log_server http://127.0.0.1:8091/healthz
wait_for trillian_log_signer http://127.0.0.1:8092/healthz
for i in 1 2 3; do start "witness$i" "$bin/htlog-witness" --config "$conf/witness$i.yaml"; done
for i in 1 2 3; do wait_for "witness$i" "http://127.0.0.1:818$i/healthz"; done
start htlog-server "$bin/htlog-server" --config "$conf/server.yaml"
wait_for htlog-server http://127.0.0.1:8080/healthz

if [ -x "$bin/htlog-monitor" ]; then
	cat >"$conf/monitor.yaml" <<YAML
listen: 127.0.0.1:8280
database: {dsn: '${dsn}htlog_monitor_${inst}'}
log: {url: 'http://127.0.0.1:8080', vkey_file: $keys/log.key.pub}
policy_file: $conf/policy.txt
submitters_file: $conf/submitters.yaml
witnesses: ['http://127.0.0.1:8181', 'http://127.0.0.1:8182', 'http://127.0.0.1:8183']
evidence_dir: $root/var/evidence
signing_key_file: $keys/monitor.key
regulators: [{name: regulator, token_file: $keys/regulator.token}]
YAML
	start htlog-monitor "$bin/htlog-monitor" --config "$conf/monitor.yaml"
	wait_for htlog-monitor http://127.0.0.1:8280/healthz
fi
start htlog-gateway "$bin/htlog-gateway" --config "$conf/gateway.yaml"
wait_for htlog-gateway http://127.0.0.1:8480/healthz

cat <<INFO

htlog is up.
  log          http://127.0.0.1:8080   (checkpoint: /checkpoint, submit: POST /add-event, patient page: /patient/)
  origin       $origin
  log vkey     $log_vkey
  policy       $conf/policy.txt (2 of 3 witnesses)
  witnesses    http://127.0.0.1:8181  http://127.0.0.1:8182  http://127.0.0.1:8183
  trillian     gRPC 127.0.0.1:8090 (log server), 127.0.0.1:8093 (signer)
  database     ${dsn}  (htlog_${inst}, htlog_witness{1,2,3}_${inst}, htlog_monitor_${inst}; Trillian: htlog_trillian)
  keys         $keys   (hospital submitter key: hospital.key)
  logs         $logs
INFO
[ -x "$bin/htlog-monitor" ] && echo "  monitor      http://127.0.0.1:8280   (regulator sign-in token: $keys/regulator.token; verdict key: monitor.key.pub)"
echo "  gateway      http://127.0.0.1:8480   (the demo hospital's: FHIR /fhir, EPCIS /epcis/events, TRDS /trds/registrations; API token: $keys/gateway.token)"
echo
echo "Latest checkpoint, cosigned by the witnesses:"
curl -fsS http://127.0.0.1:8080/checkpoint | sed 's/^/  /'
echo
echo "A short demonstration (deployment/local/demo.sh):"
deployment/local/demo.sh
echo
echo "The demo hospital's gateway (deployment/local/gateway-demo.sh): FHIR, EPCIS and WHO TRDS in, tagged events out:"
if command -v jq >/dev/null; then
	deployment/local/gateway-demo.sh
else
	echo "(skipped: gateway-demo.sh needs jq; apt-get install jq, then run it)"
fi
echo
echo "Stop everything with: make down"
