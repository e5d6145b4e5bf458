// htlog.js: the patient-side checks of an htlog lookup, in the browser, with
// WebCrypto only (HMAC-SHA-256, SHA-256, Ed25519). It
//   - parses a C2SP tlog-policy the patient supplies (never the server's word),
//   - verifies a checkpoint's Ed25519 signed-note signature by the policy's
//     log and the witnesses' cosignature/v1 signatures, and the quorum,
//   - computes the tag exactly as Go's event.Tag does (only the tag is sent),
//   - fetches /lookup/<tag> and, for each event, recomputes the entry's leaf
//     hash and verifies its RFC 6962 inclusion proof against the root of the
//     verified checkpoint in the event's tlog-proof.
//   - parses the patient bundle (a file, a QR code or pasted text) strictly,
//     as Go's client.ParsePatientBundle does,
//   - verifies the log's signed submitter registry (/registry) with the log
//     key of the policy, and each monitor's signed verdicts with the monitor
//     key of the bundle,
//   - tells each event in plain language (describe), with the words of the
//     value sets, as Go's client.Describe does.
// NOT verified (see README.md): consistency between checkpoints, and the
// submitter's signature on the event. app.js is the page's UI.
"use strict";

const enc = new TextEncoder();
const subtle = globalThis.crypto.subtle;

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(s) {
  s = s.trim();
  if (!/^([0-9a-fA-F]{2})+$/.test(s)) throw new Error("the tag key must be hex digits");
  return Uint8Array.from(s.match(/../g), (b) => parseInt(b, 16));
}

function b64(s) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new Error("bad base64");
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}

// tag returns "tag:v1:" + hex HMAC-SHA-256(key, "htlog tag v1\0" + identifier).
async function tag(keyHex, identifier) {
  const key = await subtle.importKey("raw", unhex(keyHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await subtle.sign("HMAC", key, concat(enc.encode("htlog tag v1\0"), enc.encode(identifier)));
  return "tag:v1:" + hex(mac);
}

async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// --- tlog-policy ---------------------------------------------------------

// keyHash is signed-note's key hash: the first 4 bytes of
// SHA-256(name + "\n" + type byte + public key), as 8 hex digits.
async function keyHash(name, type, pub) {
  return hex((await sha256(concat(enc.encode(name + "\n"), Uint8Array.of(type), pub))).slice(0, 4));
}

// parseVKey splits a signed-note verifier key <name>+<hash>+<base64 type||key>.
function parseVKey(vkey) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+(.*)$/.exec(vkey);
  if (!m) throw new Error(`malformed key ${vkey}`);
  const raw = b64(m[3]);
  if (raw.length < 2) throw new Error(`malformed key ${vkey}`);
  return { name: m[1], hash: m[2], type: raw[0], pub: raw.slice(1) };
}

// parsePolicy parses a C2SP tlog-policy (log, witness, group and quorum
// lines; # comments) as c2sp.ParsePolicy does. Ed25519 keys are
// checked; ML-DSA-44 witness keys are read but cannot be checked in a
// browser (p.unchecked), so those witnesses never count toward the quorum.
async function parsePolicy(text) {
  const p = { logs: [], witnesses: [], quorum: null, unchecked: [] };
  const names = new Map();
  let sawQuorum = false;
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const f = lines[i].split(/[ \t]+/).filter((x) => x !== "");
    if (f.length === 0 || f[0].startsWith("#")) continue;
    const fail = (msg) => { throw new Error(`policy line ${i + 1}: ${msg}`); };
    const fresh = (name) => { if (name === "none" || names.has(name)) fail(`name ${name} is reserved or already defined`); };
    if (f[0] === "log") {
      if (f.length < 2 || f.length > 3) fail('want "log <vkey> [<url>]"');
      const k = parseVKey(f[1]);
      if (k.type !== 1 || k.pub.length !== 32 || (await keyHash(k.name, 1, k.pub)) !== k.hash) fail("not an Ed25519 signed-note key");
      p.logs.push({ origin: k.name, hash: k.hash, key: await importEd25519(k.pub) });
    } else if (f[0] === "witness") {
      if (f.length < 3 || f.length > 4) fail('want "witness <name> <vkey> [<url>]"');
      fresh(f[1]);
      const k = parseVKey(f[2]);
      names.set(f[1], { witness: p.witnesses.length });
      if (k.type === 6) {
        // ML-DSA-44 (tlog-cosignature): browsers have no ML-DSA yet, so its
        // cosignatures are not checked here and never count toward the
        // quorum; htlog verify checks them.
        if (k.pub.length !== 1312) fail("not an ML-DSA-44 cosignature key");
        p.witnesses.push({ name: f[1], keyName: k.name, hash: await keyHash(k.name, 6, k.pub), key: null });
        p.unchecked.push(f[1]);
        continue;
      }
      if ((k.type !== 1 && k.type !== 4) || k.pub.length !== 32) fail("not an Ed25519 or ML-DSA-44 cosignature key");
      // A type 0x01 key is read as the same key used for cosignature/v1, whose key hash uses type 0x04.
      p.witnesses.push({ name: f[1], keyName: k.name, hash: await keyHash(k.name, 4, k.pub), key: await importEd25519(k.pub) });
    } else if (f[0] === "group") {
      if (f.length < 4) fail('want "group <name> all|any|<k> <name>..."');
      fresh(f[1]);
      const members = f.slice(3);
      if (new Set(members).size !== members.length) fail("a member is listed twice");
      for (const m of members) if (!names.has(m)) fail(`member ${m} is not defined on an earlier line`);
      let k = f[2] === "all" ? members.length : f[2] === "any" ? 1 : /^[1-9][0-9]*$/.test(f[2]) ? Number(f[2]) : 0;
      if (k < 1 || k > members.length) fail(`threshold ${f[2]} must be all, any or between 1 and ${members.length}`);
      names.set(f[1], { threshold: k, members: members.map((m) => names.get(m)) });
    } else if (f[0] === "quorum") {
      if (f.length !== 2) fail('want "quorum <name>"');
      if (sawQuorum) fail("a second quorum line");
      sawQuorum = true;
      if (f[1] !== "none") {
        if (!names.has(f[1])) fail(`quorum ${f[1]} is not defined on an earlier line`);
        p.quorum = names.get(f[1]);
      }
    } else {
      fail(`unknown keyword ${f[0]}`);
    }
  }
  if (!sawQuorum) throw new Error("policy has no quorum line");
  if (p.logs.length === 0) throw new Error("policy names no log");
  return p;
}

function quorumMet(p, node, cosigners) {
  if (node === null) return true;
  if (node.witness !== undefined) return cosigners.has(p.witnesses[node.witness].name);
  return node.members.filter((m) => quorumMet(p, m, cosigners)).length >= node.threshold;
}

function importEd25519(pub) {
  return subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
}

const ed25519Verify = (key, sig, msg) => subtle.verify({ name: "Ed25519" }, key, sig, msg);

// --- signed checkpoints ----------------------------------------------------

// verifyCheckpoint opens a signed checkpoint note against the policy: it must
// carry a valid signature by the policy's log for its origin, and
// cosignature/v1 signatures by enough of the policy's witnesses. As signed-note
// requires, an invalid signature by a known key fails the whole note. It
// returns { origin, size, root, cosigners } or throws.
async function verifyCheckpoint(signed, p) {
  const split = signed.lastIndexOf("\n\n");
  if (split < 0 || !signed.endsWith("\n")) throw new Error("the checkpoint is not a signed note");
  const text = signed.slice(0, split + 1), body = enc.encode(text);
  const lines = text.split("\n");
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("malformed checkpoint");
  const origin = lines[0], size = BigInt(lines[1]), root = b64(lines[2]);
  if (root.length !== 32) throw new Error("malformed checkpoint root");
  const logs = p.logs.filter((l) => l.origin === origin);
  if (logs.length === 0) throw new Error(`the checkpoint is from ${origin}, a log your policy does not list`);
  let logSigned = false;
  const cosigners = new Set();
  for (const line of signed.slice(split + 2, -1).split("\n")) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new Error("malformed signature line in the checkpoint");
    const sig = b64(m[2]);
    if (sig.length < 4) throw new Error("malformed signature in the checkpoint");
    const hash = hex(sig.slice(0, 4));
    for (const l of logs) {
      if (l.origin !== m[1] || l.hash !== hash) continue;
      if (sig.length !== 68 || !(await ed25519Verify(l.key, sig.slice(4), body))) throw new Error("the log's signature on the checkpoint is invalid");
      logSigned = true;
    }
    for (const w of p.witnesses) {
      if (w.keyName !== m[1] || w.hash !== hash || w.key === null) continue;
      if (sig.length !== 76) throw new Error(`witness ${w.name}'s cosignature is malformed`);
      const time = new DataView(sig.buffer, sig.byteOffset + 4, 8).getBigUint64(0);
      const msg = concat(enc.encode(`cosignature/v1\ntime ${time}\n`), body);
      if (!(await ed25519Verify(w.key, sig.slice(12), msg))) throw new Error(`witness ${w.name}'s cosignature is invalid`);
      cosigners.add(w.name);
    }
  }
  if (!logSigned) throw new Error(`the checkpoint carries no valid signature by the key your policy lists for ${origin}`);
  const names = [...cosigners].sort();
  if (!quorumMet(p, p.quorum, cosigners)) {
    const unchecked = p.unchecked.length ? `; the cosignatures of ${p.unchecked.join(", ")} (ML-DSA-44) cannot be checked in a browser: use htlog verify` : "";
    throw new Error(`witness quorum not met: cosigned by ${names.length} witnesses (${names.join(", ") || "none"})${unchecked}`);
  }
  return { origin, size, root, cosigners: names };
}

// --- tlog-proofs and inclusion ---------------------------------------------

// parseProof splits a C2SP tlog-proof into index, hashes and signed checkpoint.
function parseProof(text) {
  const lines = text.split("\n");
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("not a tlog-proof");
  let i = 1;
  if (lines[i].startsWith("extra ")) i++;
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i++]);
  if (!m) throw new Error("proof has no index line");
  const hashes = [];
  while (lines[i] !== "") {
    if (i >= lines.length) throw new Error("proof has no checkpoint");
    hashes.push(b64(lines[i++]));
  }
  return { index: BigInt(m[1]), hashes, checkpoint: lines.slice(i + 1).join("\n") };
}

// verifyInclusion is RFC 6962 (RFC 9162 section 2.1.3.2) inclusion proof verification.
async function verifyInclusion(index, size, leaf, hashes, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of hashes) {
    if (p.length !== 32 || sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && hex(r) === hex(root);
}

// checkEvent verifies one /lookup result against the policy (a parsePolicy
// result); cache, if given, maps checkpoint texts to verification promises.
async function checkEvent(e, wantTag, policy, cache = new Map()) {
  // The logged entry is the canonical envelope: compact JSON in the field
  // order payloadType, payload, signatures[{keyid, sig}], which is what
  // JSON.stringify gives for the parsed object.
  const entry = enc.encode(JSON.stringify(e.envelope));
  const payload = b64(e.envelope.payload);
  const ev = JSON.parse(new TextDecoder().decode(payload));
  const out = { index: e.index, ev, eventID: "sha256:" + hex(await sha256(payload)), ok: false };
  if (!JSON.stringify(ev.body).includes(JSON.stringify(wantTag))) return { ...out, why: "the event does not carry your tag" };
  if (!e.proof) return { ...out, why: "not yet in a published checkpoint" };
  try {
    const p = parseProof(e.proof);
    if (p.index !== BigInt(e.index)) return { ...out, why: "the proof is for another index" };
    if (!cache.has(p.checkpoint)) cache.set(p.checkpoint, verifyCheckpoint(p.checkpoint, policy));
    const cp = await cache.get(p.checkpoint);
    if (!(await verifyInclusion(p.index, cp.size, await leafHash(entry), p.hashes, cp.root))) {
      return { ...out, why: "the inclusion proof does not verify" };
    }
    return { ...out, ok: true, why: `included in ${cp.origin} at size ${cp.size}, cosigned by ${cp.cosigners.join(", ") || "no witness (policy quorum none)"}` };
  } catch (err) {
    return { ...out, why: err.message };
  }
}

// lookup fetches every page of /lookup/<tag> and checks each event.
async function lookup(logURL, t, policy) {
  const results = [], cache = new Map();
  let after = "";
  for (let page = 0; page < 1000; page++) {
    const resp = await fetch(logURL.replace(/\/$/, "") + "/lookup/" + encodeURIComponent(t) + after);
    if (!resp.ok) throw new Error(`the log answered ${resp.status}: ${(await resp.text()).trim()}`);
    const body = await resp.json();
    for (const e of body.events) results.push(await checkEvent(e, t, policy, cache));
    if (body.next === undefined || body.next === null) break;
    after = "?after=" + body.next;
  }
  return results;
}

// latestCheckpoint fetches /checkpoint and verifies it against the policy.
async function latestCheckpoint(logURL, policy) {
  const resp = await fetch(logURL.replace(/\/$/, "") + "/checkpoint", { cache: "no-store" });
  if (!resp.ok) throw new Error(`the log answered ${resp.status} for its checkpoint`);
  return verifyCheckpoint(await resp.text(), policy);
}

// --- signed notes ------------------------------------------------------------

// openNote verifies a signed note against keys ([{name, hash, key}]): at
// least one must have signed it, and a signature by one of them that does
// not verify rejects the note. It returns the note's text.
async function openNote(signed, keys) {
  const split = signed.lastIndexOf("\n\n");
  if (split < 0 || !signed.endsWith("\n")) throw new Error("not a signed note");
  const text = signed.slice(0, split + 1), body = enc.encode(text);
  let ok = false;
  for (const line of signed.slice(split + 2, -1).split("\n")) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new Error("malformed signature line");
    const sig = b64(m[2]);
    if (sig.length < 4) throw new Error("malformed signature");
    const h = hex(sig.slice(0, 4));
    for (const k of keys) {
      if (k.name !== m[1] || k.hash !== h) continue;
      if (sig.length !== 68 || !(await ed25519Verify(k.key, sig.slice(4), body))) throw new Error(`the signature by ${k.name} is invalid`);
      ok = true;
    }
  }
  if (!ok) throw new Error("it carries no valid signature by the expected key");
  return text;
}

// --- the patient bundle --------------------------------------------------------

// orgID checks an organisation id as Go's ident.OrgID: npi: with the NPI
// Luhn check digit, gln: with the GS1 check digit, or urn:oid:.
function orgID(s) {
  if (typeof s !== "string" || s.length > 80) return false;
  let m = /^npi:([12][0-9]{9})$/.exec(s);
  if (m) {
    let sum = 24;
    for (let i = 0; i < 10; i++) {
      let d = Number(m[1][9 - i]);
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }
  m = /^gln:([0-9]{13})$/.exec(s);
  if (m) {
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(m[1][11 - i]) * (i % 2 === 0 ? 3 : 1);
    return (10 - (sum % 10)) % 10 === Number(m[1][12]);
  }
  return /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/.test(s);
}

function baseURL(s, what) {
  let u;
  try { u = new URL(s); } catch (e) { throw new Error(`${what} is not an absolute http(s) URL`); }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.username || u.password || u.search || u.hash) {
    throw new Error(`${what} is not an http(s) base URL without user, query or fragment`);
  }
  return s.replace(/\/$/, "");
}

function onlyFields(o, fields, what) {
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new Error(`${what} is not a JSON object`);
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw new Error(`${what} has an unknown field "${k}"`);
}

// commitmentOf is Go's event.Commit with a given opening.
async function commitmentOf(openingHex, value) {
  const key = await subtle.importKey("raw", unhex(openingHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return "commit:v1:" + hex(await subtle.sign("HMAC", key, concat(enc.encode("htlog commitment v1\0"), enc.encode(value))));
}

// parseBundle parses a patient bundle (htlog-patient-bundle/v1) as Go's
// client.ParsePatientBundle does and returns { bundle, policy, tag,
// monitors: [{url, name, hash, key}], openings: Map(commitment -> value) }.
async function parseBundle(text) {
  let b;
  try { b = JSON.parse(text); } catch (e) { throw new Error("This is not a patient bundle: it is not JSON."); }
  onlyFields(b, ["type", "log", "custodian", "key", "policy", "monitors", "openings"], "the bundle");
  if (b.type !== "htlog-patient-bundle/v1") throw new Error("This is not a patient bundle (its type is not htlog-patient-bundle/v1).");
  const log = baseURL(b.log, "the bundle's log");
  if (!orgID(b.custodian)) throw new Error("the bundle's provider id is not an organisation id with a valid check digit");
  if (typeof b.key !== "string" || !/^[0-9a-f]{64}$/.test(b.key)) throw new Error("the bundle's key is not 64 lower-case hex digits");
  if (typeof b.policy !== "string") throw new Error("the bundle has no witness policy");
  const policy = await parsePolicy(b.policy);
  const monitors = [];
  if (b.monitors !== undefined) {
    if (!Array.isArray(b.monitors) || b.monitors.length > 16) throw new Error("the bundle's monitors are not a list of at most 16");
    for (const m of b.monitors) {
      onlyFields(m, ["url", "vkey"], "a monitor of the bundle");
      const k = parseVKey(m.vkey);
      if (k.type !== 1 || k.pub.length !== 32 || (await keyHash(k.name, 1, k.pub)) !== k.hash) throw new Error(`the monitor key ${k.name} is not an Ed25519 signed-note key`);
      monitors.push({ url: baseURL(m.url, "a monitor's URL"), name: k.name, hash: k.hash, key: await importEd25519(k.pub) });
    }
  }
  const openings = new Map();
  if (b.openings !== undefined) {
    if (!Array.isArray(b.openings)) throw new Error("the bundle's openings are not a list");
    for (const o of b.openings) {
      onlyFields(o, ["commitment", "value", "opening"], "an opening of the bundle");
      if (typeof o.value !== "string" || typeof o.opening !== "string" || !/^[0-9a-f]{64}$/.test(o.opening) ||
          (await commitmentOf(o.opening, o.value)) !== o.commitment) {
        throw new Error("an opening of the bundle does not open its commitment");
      }
      openings.set(o.commitment, o.value);
    }
  }
  return { bundle: b, log, policy, monitors, openings, tag: await tag(b.key, "patient:" + b.custodian) };
}

// --- the log's signed registry and the monitors' signed verdicts ---------------

// fetchRegistry fetches /registry and verifies it with the key the policy
// lists for the log it names; it returns Map(org -> name).
async function fetchRegistry(logURL, policy) {
  const resp = await fetch(logURL.replace(/\/$/, "") + "/registry", { cache: "no-store" });
  if (!resp.ok) throw new Error(`the log answered ${resp.status} for its registry`);
  const signed = await resp.text();
  const lines = signed.split("\n");
  if (lines[0] !== "htlog registry v1") throw new Error("the log's registry is not a registry note");
  const keys = policy.logs.filter((l) => l.origin === lines[1]).map((l) => ({ name: l.origin, hash: l.hash, key: l.key }));
  if (keys.length === 0) throw new Error(`the registry is for ${lines[1]}, a log your policy does not list`);
  const text = await openNote(signed, keys);
  const t = text.slice(0, -1).split("\n");
  if (t.length !== 3) throw new Error("the registry note is malformed");
  const j = JSON.parse(t[2]);
  const names = new Map();
  for (const s of j.submitters || []) {
    if (!orgID(s.org) || typeof s.name !== "string" || s.name.length > 200) throw new Error("the registry lists a malformed organisation");
    if (s.name !== "") names.set(s.org, s.name);
  }
  return names;
}

const VERDICT_STATUSES = ["allowed", "permitted_disclosure", "under_review", "flagged", "no_finding", "not_checked_yet"];

// fetchVerdicts asks one monitor of the bundle about entries of the log
// origin (GET <monitor>/verdicts, at most 100 entries a request) and
// verifies each answer with the monitor's key; it returns Map(entry -> verdict).
async function fetchVerdicts(monitor, origin, entries) {
  const out = new Map();
  for (let i = 0; i < entries.length; i += 100) {
    const asked = entries.slice(i, i + 100);
    const resp = await fetch(monitor.url + "/verdicts?entries=" + asked.join(","), { cache: "no-store" });
    if (!resp.ok) throw new Error(`the monitor answered ${resp.status}`);
    const text = await openNote(await resp.text(), [monitor]);
    const t = text.slice(0, -1).split("\n");
    if (t.length !== 3 || t[0] !== "htlog-monitor verdicts v1") throw new Error("not a verdicts note");
    if (t[1] !== origin) throw new Error(`its verdicts are about the log ${t[1]}`);
    for (const v of JSON.parse(t[2]).verdicts || []) {
      if (!asked.includes(v.entry) || out.has(v.entry)) throw new Error(`it answered about entry ${v.entry}, which was not asked for`);
      if (!VERDICT_STATUSES.includes(v.status)) throw new Error(`unknown status ${v.status}`);
      out.set(v.entry, v);
    }
  }
  return out;
}

// --- plain language (as Go's client.Describe, VerdictText, InLogText) ---------

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const pad2 = (n) => String(n).padStart(2, "0");

// partsIn returns the calendar date and time of date in the time zone tz
// (undefined: the browser's).
function partsIn(date, tz) {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: tz, year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", hourCycle: "h23" });
  const p = Object.fromEntries(f.formatToParts(date).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), H: Number(p.hour) % 24, M: Number(p.minute) };
}

// formatWhen is Go's client.FormatWhen: "Sun 3 May 2026, 12:30".
function formatWhen(date, tz) {
  const p = partsIn(date, tz);
  return `${DAYS[new Date(Date.UTC(p.y, p.m - 1, p.d)).getUTCDay()]} ${p.d} ${MONTHS[p.m - 1]} ${p.y}, ${pad2(p.H)}:${pad2(p.M)}`;
}

// formatDay is Go's client.FormatDay: "3 May 2026".
function formatDay(date, tz) {
  const p = partsIn(date, tz);
  return `${p.d} ${MONTHS[p.m - 1]} ${p.y}`;
}

// valueSets maps a value set's name to its concepts ([{system, code, display}]).
async function fetchValueSets(logURL) {
  const out = {};
  for (const name of ["agent-role", "purpose-of-use", "disclosure-basis"]) {
    const resp = await fetch(logURL.replace(/\/$/, "") + "/valuesets/" + name + ".json");
    if (!resp.ok) throw new Error(`the log answered ${resp.status} for the value set ${name}`);
    out[name] = (await resp.json()).concepts;
  }
  return out;
}

// display is Go's schemas (*ValueSet).Display, falling back to the code.
function display(sets, set, system, code) {
  const matches = (sets[set] || []).filter((c) => c.code === code && (system === "" || c.system === system));
  return matches.length === 1 ? matches[0].display : code;
}

function withArticle(s) {
  if (["a ", "an ", "the "].some((a) => s.startsWith(a))) return s;
  return (s !== "" && "aeiouAEIOU".includes(s[0]) ? "an " : "a ") + s;
}

const capitalise = (s) => s === "" ? s : s[0].toUpperCase() + s.slice(1);
const ACTION_WORDS = { C: "added to", R: "viewed", U: "changed", D: "deleted from", E: "used" };

// describe tells an event in plain language: { when, org, orgName,
// sentence, breakGlass, disclosure }. names is the verified registry (null:
// none verified), openings the bundle's, sets the value sets, tz the zone.
function describe(ev, names, openings, sets, tz) {
  const b = (ev.body && typeof ev.body === "object") ? ev.body : {};
  const t = new Date(ev.occurred_at);
  const d = { when: isNaN(t) ? ev.occurred_at : formatWhen(t, tz), org: ev.submitter && ev.submitter.org, breakGlass: false, disclosure: "" };
  let agent = b.agent || null;
  for (const a of Array.isArray(b.agents) ? b.agents : []) if (agent === null || a.requestor === true) agent = a;
  if (agent && agent.organization) d.org = agent.organization;
  else if (b.grantee && b.grantee.organization) d.org = b.grantee.organization;
  d.orgName = (names && names.get(d.org)) || "";
  const org = d.orgName || (names === null ? `the organisation ${d.org} (name not verified)` : `the organisation ${d.org} (no name in the log's registry)`);
  if (ev.kind === "access") {
    const who = agent && agent.role ? withArticle(display(sets, "agent-role", agent.role.system, agent.role.code)) : "someone";
    let s = capitalise(who) + " at " + org + " " + (ACTION_WORDS[b.action] || "used") + " your record";
    if (b.outcome && b.outcome !== "0") s = capitalise(who) + " at " + org + " tried to use your record (it failed)";
    if (b.purpose_of_use) s += ", for " + display(sets, "purpose-of-use", "", b.purpose_of_use);
    d.sentence = s + ".";
    d.breakGlass = b.purpose_of_use === "ETREAT";
    if (b.disclosure && b.disclosure.flag) {
      let x = "Disclosed to " + (openings.get(b.disclosure.recipient) || "a recipient your provider has not revealed to you");
      if (openings.has(b.disclosure.description)) x += " (" + openings.get(b.disclosure.description) + ")";
      if (b.disclosure.basis) x += ", on the basis of " + display(sets, "disclosure-basis", "", b.disclosure.basis);
      d.disclosure = x + ".";
    }
  } else if (ev.kind === "consent") {
    const what = b.decision === "deny" ? "your refusal" : "your consent";
    const purposes = [];
    for (const p of Array.isArray(b.provisions) ? b.provisions : []) {
      if (p.decision === "deny") continue;
      for (const c of p.purpose || []) {
        const w = display(sets, "purpose-of-use", "", c);
        if (!purposes.includes(w)) purposes.push(w);
      }
    }
    let s = capitalise(org) + " recorded " + what;
    if (b.revokes) s = capitalise(org) + " recorded that you withdrew a consent";
    else if (b.status && b.status !== "active") s = capitalise(org) + " recorded that " + what + " is no longer in force";
    if (purposes.length > 0) s += ", for " + purposes.join(", ");
    d.sentence = s + ".";
  } else {
    d.sentence = `${capitalise(org)} logged a ${ev.kind} event about you.`;
  }
  return d;
}

// verdictText is Go's client.VerdictText: what a monitor found, in words.
function verdictText(v, tz) {
  switch (v.status) {
    case "allowed": return v.consent_at ? "allowed under your consent of " + formatDay(new Date(v.consent_at), tz) : "allowed under your consent";
    case "permitted_disclosure": return "a disclosure the law permits without your consent";
    case "under_review": return "emergency access, under review";
    case "flagged":
      for (const f of v.findings || []) {
        if (f.state === "resolved") continue;
        return f.rule === "access_without_consent" ? "no consent found" : "flagged: " + f.summary;
      }
      return "flagged";
    case "no_finding": return "checked, nothing to report";
    case "not_checked_yet": return "not checked yet";
  }
  return "unknown verdict";
}

// inLogText is Go's client.InLogText.
const inLogText = (index) => `✓ In the log as entry ${index} (proof checked): it is on the record for good. Whether it was allowed is what the monitors say.`;

if (typeof module !== "undefined") {
  module.exports = { tag, parsePolicy, verifyCheckpoint, parseProof, verifyInclusion, leafHash, checkEvent, lookup, latestCheckpoint,
    openNote, parseBundle, fetchRegistry, fetchVerdicts, describe, verdictText, inLogText, formatWhen, formatDay, fetchValueSets, orgID };
}
