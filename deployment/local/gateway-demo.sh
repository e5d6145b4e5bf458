#!/usr/bin/env bash
# gateway-demo.sh shows the demo hospital's htlog-gateway at work on a
# running `make up`: it posts a FHIR AuditEvent (the IHE BALP read example),
# an EPCIS 2.0 commissioning/shipping/receiving chain and a WHO TRDS trial
# registration to the gateway, waits until each is logged with a verified
# receipt, and finds each again on the log: the access with the patient's
# bundle (htlog lookup --bundle), the packages with their serial tag, the
# trial by its event id. Exits non-zero if anything does not come back.
#
#   deployment/local/gateway-demo.sh
#
# Environment: GATEWAY (http://127.0.0.1:8480), LOG (http://127.0.0.1:8080),
# GATEWAY_TOKEN_FILE (var/keys/gateway.token), POLICY (var/config/policy.txt),
# HTLOG_CLI (bin/htlog). Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=$root/bin
htlog=${HTLOG_CLI:-$bin/htlog}
gw=${GATEWAY:-http://127.0.0.1:8480}
log=${LOG:-http://127.0.0.1:8080}
token=$(cat "${GATEWAY_TOKEN_FILE:-$root/var/keys/gateway.token}")
policy=${POLICY:-$root/var/config/policy.txt}
data=$root/gateway/testdata
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "gateway-demo: $*"; }
die() { echo "gateway-demo: $*" >&2; exit 1; }
command -v jq >/dev/null || die "needs jq"
curl -fsS -o /dev/null "$gw/healthz" || die "no gateway at $gw: is \`make up\` running it?"

now=$(date -u +%Y-%m-%dT%H:%M:00Z)
# The log admits events of the last 72 hours only: the examples get today's times.
t0=$(date -u -d '-3 min' +%Y-%m-%dT%H:%M:00Z); t1=$(date -u -d '-2 min' +%Y-%m-%dT%H:%M:00Z); t2=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:00Z)
patient="demo-$(date +%s)"

post() { # path file -> prints the answer; fails on a non-2xx
	local code
	code=$(curl -sS -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$2" "$gw$1")
	[ "${code:0:1}" = 2 ] || { cat "$work/answer" >&2; die "POST $1: $code"; }
	cat "$work/answer"
}

# 1. A FHIR AuditEvent: a patient's record read, as IHE BALP records it.
jq --arg t "$now" --arg p "Patient/$patient" --arg r "$(date +%s%N)" \
	'.recorded=$t | .entity[0].what.reference=$p | .entity[2].what.identifier.value=$r' \
	"$data/balp/AuditEvent-ex-auditBasicReadServer.json" >"$work/audit.json"
access=$(post /fhir/AuditEvent "$work/audit.json" | jq -r '.issue[0].diagnostics' | sed 's/accepted as htlog event \(sha256:[0-9a-f]*\).*/\1/')
say "AuditEvent accepted as $access"

# 2. EPCIS: commissioning, shipping and receiving of two packages (serials made unique per run).
s1=$((RANDOM * 1000 + 1)); s2=$((s1 + 1))
sed -e "s/2026-11-30T08:00:00.000Z/$t0/" -e "s/2026-11-30T09:00:00.000Z/$t1/" -e "s/2026-11-30T15:30:00.000Z/$t2/" \
	-e "s/107346\.2017/107346.$s1/g" -e "s/107346\.2018/107346.$s2/g" \
	-e "s/5d1a3b2e-8c4f-4a61-9b7e-0f2d6c9a1e0/$(cat /proc/sys/kernel/random/uuid | cut -c1-35)/" \
	"$data/epcis/dscsa-commission-ship-receive.jsonld" >"$work/epcis.json"
mapfile -t custody < <(post /epcis/events "$work/epcis.json" | jq -r '.captured[].event_id')
[ "${#custody[@]}" = 3 ] || die "EPCIS capture: want 3 events"
say "EPCIS capture accepted as ${custody[*]}"

# 3. A WHO TRDS registration (a fresh trial id per run: the log takes one registration per trial).
nct="NCT$(printf '%08d' $(( (RANDOM * 32768 + RANDOM) % 100000000 )))"
jq --arg id "$nct" '.primary_registry_id=$id' "$data/trds/registration.json" >"$work/trial.json"
trial=$(post /trds/registrations "$work/trial.json" | jq -r .event_id)
say "TRDS registration $nct accepted as $trial"

# Wait until the gateway holds a verified receipt for each.
for id in "$access" "${custody[@]}" "$trial"; do
	for _ in $(seq 1 60); do
		state=$(curl -fsS "$gw/items/$id" | jq -r .state)
		[ "$state" = logged ] && break
		[ "$state" = refused ] && die "the log refused $id: $(curl -fsS "$gw/items/$id" | jq -r .reason)"
		sleep 0.5
	done
	[ "$state" = logged ] || die "$id still $state after 30 s"
	say "$id logged at index $(curl -fsS "$gw/items/$id" | jq -r .index)"
done

# Found again on the log: the access by the patient's bundle...
curl -fsS -H "Authorization: Bearer $token" "$gw/patients/$patient/bundle" >"$work/bundle.json"
"$htlog" lookup --bundle "$work/bundle.json" --json >"$work/patient.jsonl"
grep -q "$access" "$work/patient.jsonl" || die "the patient's lookup does not find $access"
say "the patient's bundle finds the access on the log (verified)"
# ...the packages by their serial tag...
tag=$(curl -fsS -H "Authorization: Bearer $token" "$gw/packages/10614141073464/$s2" | jq -r .tag)
"$htlog" lookup --policy "$policy" --log "$log" --tag "$tag" --json >"$work/package.jsonl"
for id in "${custody[@]}"; do grep -q "$id" "$work/package.jsonl" || die "the package lookup does not find $id"; done
say "the package's tag finds commissioning, shipping and receiving on the log (verified)"
# ...and the trial by its event id.
curl -fsS "$log/event/$trial" >/dev/null || die "the log does not know $trial"
say "the trial registration is on the log"
say "all documents came back from the log"
