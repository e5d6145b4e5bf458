#!/usr/bin/env bash
# demo.sh shows the local stack working, the way a new user would use it: a
# registered hospital submits a consent and an access event, the receipt is
# verified offline, the patient finds both events with their own tag key, an
# event carrying a name in clear is refused before it reaches the log, the
# monitor has no finding about them; then a break-glass access, a disclosure
# to public health and an access citing another patient's consent are
# submitted, the regulator triages the break-glass finding, and the patient
# reads it all in plain words (htlog lookup, the patient page) with their
# accounting of disclosures. up.sh runs it at the end.
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

	index_of() { sed -n 's/^index //p' "$1"; }
	submit() { # kind body-file name: submits and leaves $work/name.tlog-proof; prints the event id
		"$bin/htlog" submit --key "$keys/hospital.key" --org "$org" --kind "$1" --policy "$conf/policy.txt" \
			--out "$work/$3.tlog-proof" "$2" 2>"$work/$3.err" || { cat "$work/$3.err" >&2; fail "$3 submission failed"; }
		grep -o 'sha256:[0-9a-f]\{64\}' "$work/$3.err" | head -1
	}

	step "An emergency (break-glass) access to the patient's record: every one is a finding to review"
	sed -e "s/tag:v1:9822c35cfe20d5a81afbec00664b51c9f6b03f872ac95aa5fe50b4b271ebec3d/$tag/" \
		schemas/examples/access/valid-break-glass.json >"$work/break-glass.json"
	bg_id=$(submit access "$work/break-glass.json" break-glass)
	echo "break-glass access $bg_id logged"

	step "A disclosure to public health (45 CFR 164.512(b)): permitted without consent, and owed in the patient's accounting"
	recipient="State Department of Health, immunization registry"
	description="Immunization record (vaccine, date, lot)"
	"$bin/htlog" commit --json "$recipient" >"$work/recipient.commit"
	"$bin/htlog" commit --json "$description" >"$work/description.commit"
	rc=$(sed -n 's/.*"commitment":"\([^"]*\)".*/\1/p' "$work/recipient.commit")
	dc=$(sed -n 's/.*"commitment":"\([^"]*\)".*/\1/p' "$work/description.commit")
	sed -e "s/$example_tag/$tag/g" -e "s/commit:v1:404346e21f372d583eefb6d4b724a84bbb33623c7320ed97105ba3afecb3bb45/$rc/" \
		-e "s/commit:v1:745ca9c30c7ef72f21b790460b8585e24709d23fbeacad5f60b9bc3353a1941e/$dc/" \
		schemas/examples/access/valid-disclosure-to-public-health.json >"$work/disclosure.json"
	ph_id=$(submit access "$work/disclosure.json" disclosure)
	echo "disclosure $ph_id logged"

	step "An access to the patient's record that cites another patient's consent"
	other_tag=$("$bin/htlog" patient-key --store "$keys/patients" --patient "$mrn-other" --custodian "$org" 2>/dev/null)
	sed -e "s/$tag/$other_tag/g" "$work/consent.json" >"$work/other-consent.json"
	other_consent=$(submit consent "$work/other-consent.json" other-consent)
	sed -e "s/$consent_id/$other_consent/" "$work/access.json" >"$work/bad-access.json"
	bad_id=$(submit access "$work/bad-access.json" bad-access)
	wait_monitor
	echo "the monitor reports it: $(findings_for "${bad_id#sha256:}")"
	echo "the public-health disclosure raises: $(f=$(findings_for "${ph_id#sha256:}"); echo "${f:-nothing}")"

	step "The regulator triages the break-glass access on the dashboard (here through its API)"
	finding=$(curl -fsS "http://127.0.0.1:8280/findings?rule=break_glass_review&state=open&limit=1000" |
		grep -o "{[^{}]*${bg_id#sha256:}[^{}]*}" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -1)
	[ -n "$finding" ] || fail "no open break_glass_review finding for $bg_id"
	curl -fsS -X POST -H "Authorization: Bearer $(cat "$keys/regulator.token")" -H 'Content-Type: application/json' \
		--data '{"state":"acknowledged","note":"asked the emergency department for the reason"}' \
		"http://127.0.0.1:8280/findings/$finding/state" >/dev/null
	echo "finding $finding acknowledged (it stays under review for the patient until resolved)"

	step "The patient's bundle: the provider hands over their key, the policy, the monitor to trust and the openings"
	printf '[{"commitment":"%s","value":"%s","opening":"%s"},{"commitment":"%s","value":"%s","opening":"%s"}]\n' \
		"$rc" "$recipient" "$(sed -n 's/.*"opening":"\([^"]*\)".*/\1/p' "$work/recipient.commit")" \
		"$dc" "$description" "$(sed -n 's/.*"opening":"\([^"]*\)".*/\1/p' "$work/description.commit")" >"$work/openings.json"
	"$bin/htlog" bundle --force --log http://127.0.0.1:8080 --custodian "$org" --key-file "$keys/patient.tagkey" \
		--policy "$conf/policy.txt" --monitor http://127.0.0.1:8280 --monitor-key "$keys/monitor.key.pub" \
		--openings "$work/openings.json" --out "$work/patient-bundle.json"
	"$bin/htlog" lookup --bundle "$work/patient-bundle.json"

	step "The patient's accounting of disclosures (HIPAA 164.528), from the log and the bundle's openings"
	"$bin/htlog" disclosures --bundle "$work/patient-bundle.json"

	step "The patient's page: open it, then open the bundle (file $work/patient-bundle.json)"
	echo "http://127.0.0.1:8080/patient/#bundle=$(base64 -w0 "$work/patient-bundle.json" | tr '+/' '-_' | tr -d '=')"
	echo "(dashboard: http://127.0.0.1:8280/)"
fi
