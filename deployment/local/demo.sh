#!/usr/bin/env bash
# demo.sh shows the local stack working, the way a new user would use it: a
# registered hospital submits a consent and an access event, the receipt is
# verified offline, the patient finds both events with their own tag key, an
# event carrying a name in clear is refused before it reaches the log, the
# monitor has no finding about them; then an access that cites no valid
# consent is submitted and the monitor reports it. up.sh runs it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=bin
keys=var/keys
conf=var/config
work=var/demo
mkdir -p "$work"
org=npi:1234567893
step() { printf '\n== %s\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }

step "The patient's tag key is theirs alone: the hospital keeps one per patient and hands it over"
mrn="MRN-DEMO-$(date +%s)"
rm -f "$keys/patient.tagkey"
tag=$("$bin/htlog" patient-key --store "$keys/patients" --patient "$mrn" --custodian "$org" --export "$keys/patient.tagkey" 2>/dev/null)
echo "patient $mrn appears on the log only as $tag (key for the patient: $keys/patient.tagkey)"

example_tag="tag:v1:cb1ac7aefbcbd74882a4d5f4f99da0a63ae94801d8dd27b0a9bb149fe6b6f274"
sed -e "s/$example_tag/$tag/g" -e 's/"end": "2026-03-14T00:00:00+01:00"/"end": "2099-01-01T00:00:00Z"/' \
	schemas/examples/consent/valid-treatment-grant.json >"$work/consent.json"

step "General Hospital ($org) submits the patient's consent and waits for the cosigned receipt"
"$bin/htlog" submit --key "$keys/hospital.key" --org "$org" --kind consent --policy "$conf/policy.txt" \
	--envelope-out "$work/consent.envelope.json" --out "$work/consent.tlog-proof" "$work/consent.json" 2>"$work/consent.err" ||
	{ cat "$work/consent.err" >&2; fail "consent submission failed"; }
consent_id=$(grep -o 'sha256:[0-9a-f]\{64\}' "$work/consent.err" | head -1)
[ -n "$consent_id" ] || consent_id=$(grep -o 'sha256:[0-9a-f]\{64\}' "$work/consent.tlog-proof" | head -1)
echo "consent $consent_id logged"

sed -e "s/$example_tag/$tag/g" -e "s/sha256:7595debe2435408958fee6bba916d06f76e7761c31947c4a1ce799950c9ab938/$consent_id/" \
	schemas/examples/access/valid-routine-read.json >"$work/access.json"
step "A clinician reads the record for treatment; the access event cites the consent"
"$bin/htlog" submit --key "$keys/hospital.key" --org "$org" --kind access --policy "$conf/policy.txt" \
	--envelope-out "$work/access.envelope.json" --out "$work/access.tlog-proof" "$work/access.json" 2>"$work/access.err" ||
	{ cat "$work/access.err" >&2; fail "access submission failed"; }
access_id=$(grep -o 'sha256:[0-9a-f]\{64\}' "$work/access.err" | head -1)
echo "access $access_id logged"

step "Anyone verifies the receipt offline, against the witness policy"
"$bin/htlog" verify --policy "$conf/policy.txt" --entry "$work/access.envelope.json" "$work/access.tlog-proof"

step "The patient looks up their record with their own key"
"$bin/htlog" lookup --policy "$conf/policy.txt" --key-file "$keys/patient.tagkey" --custodian "$org"

step "The log refuses health information in clear: a name in a free-text field never reaches it"
sed -e 's/"code": "doctor"/"code": "doctor", "display": "Dr Smith, Jane Roe chart"/' "$work/access.json" >"$work/phi-access.json"
if "$bin/htlog" submit --key "$keys/hospital.key" --org "$org" --kind access --policy "$conf/policy.txt" \
	"$work/phi-access.json" >/dev/null 2>"$work/phi-access.err"; then
	fail "an event with a name in clear was accepted"
fi
grep -v '^event ' "$work/phi-access.err"

if curl -fsS -o /dev/null http://127.0.0.1:8280/healthz 2>/dev/null; then
	findings_for() { curl -fsS "http://127.0.0.1:8280/findings?limit=1000" | grep -o "\"rule\":\"[a-z_]*\",[^}]*$1" | grep -o '"rule":"[a-z_]*"' || true; }
	wait_monitor() { # wait until the monitor has replayed the log's current size
		local size
		size=$(curl -fsS http://127.0.0.1:8080/checkpoint | sed -n 2p)
		for _ in $(seq 1 60); do
			[ "$(curl -fsS http://127.0.0.1:8280/metrics | awk '/^htlog_monitor_tree_size /{printf "%d", $2}')" -ge "$size" ] && return 0
			sleep 1
		done
		echo "(the monitor has not caught up with size $size yet)"
	}
	step "The regulator's monitor replays the log: no finding about these two events"
	wait_monitor
	f=$(findings_for "${access_id#sha256:}")
	[ -z "$f" ] && echo "no findings for $access_id" || echo "findings: $f"

	step "An access that cites the consent of another patient..."
	other_tag=$("$bin/htlog" patient-key --store "$keys/patients" --patient "$mrn-other" --custodian "$org" 2>/dev/null)
	sed -e "s/$tag/$other_tag/g" "$work/access.json" >"$work/bad-access.json"
	"$bin/htlog" submit --key "$keys/hospital.key" --org "$org" --kind access --policy "$conf/policy.txt" \
		--out "$work/bad-access.tlog-proof" "$work/bad-access.json" 2>"$work/bad-access.err" ||
		{ cat "$work/bad-access.err" >&2; fail "bad access submission failed"; }
	bad_id=$(grep -o 'sha256:[0-9a-f]\{64\}' "$work/bad-access.err" | head -1)
	wait_monitor
	echo "...is reported by the monitor: $(findings_for "${bad_id#sha256:}")"
	echo "(dashboard: http://127.0.0.1:8280/)"
fi
