// htlog.js: the patient-side checks of an htlog lookup, in the browser, with
// WebCrypto only. It computes the tag exactly as Go's event.Tag does, fetches
// /lookup/<tag>, and for each event recomputes the entry's leaf hash and
// verifies its inclusion proof against the root of the checkpoint in the
// event's tlog-proof.
//
// NOT verified yet (see README.md): the log's signature and the witnesses'
// cosignatures on the checkpoint (so a lying server could invent a
// checkpoint), the witness policy's quorum, and the submitter's signature on
// the event. Use `htlog lookup` / `htlog verify` for the full check.
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

// parseProof splits a C2SP tlog-proof into index, hashes and checkpoint.
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
  const cp = lines.slice(i + 1);
  const size = /^(0|[1-9][0-9]*)$/.test(cp[1]) ? BigInt(cp[1]) : null;
  const root = b64(cp[2] || "");
  if (size === null || root.length !== 32) throw new Error("malformed checkpoint");
  return { index: BigInt(m[1]), hashes, origin: cp[0], size, root, checkpoint: cp.join("\n") };
}

// verifyInclusion is RFC 9162's inclusion proof verification.
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

// checkEvent verifies one /lookup result and summarises it.
async function checkEvent(e, wantTag) {
  // The logged entry is the canonical envelope: compact JSON in the field
  // order payloadType, payload, signatures[{keyid, sig}], which is what
  // JSON.stringify gives for the parsed object.
  const entry = enc.encode(JSON.stringify(e.envelope));
  const ev = JSON.parse(new TextDecoder().decode(b64(e.envelope.payload)));
  const out = { index: e.index, when: ev.occurred_at, kind: ev.kind, org: ev.submitter && ev.submitter.org,
    purpose: (ev.body && (ev.body.purpose_of_use || ev.body.scope || ev.body.biz_step || ev.body.action)) || "-" };
  if (!JSON.stringify(ev.body).includes(JSON.stringify(wantTag))) return { ...out, ok: false, why: "the event does not carry your tag" };
  if (!e.proof) return { ...out, ok: false, why: "not yet in a published checkpoint" };
  const p = parseProof(e.proof);
  if (p.index !== BigInt(e.index)) return { ...out, ok: false, why: "the proof is for another index" };
  const ok = await verifyInclusion(p.index, p.size, await leafHash(entry), p.hashes, p.root);
  return { ...out, ok, why: ok ? `included in ${p.origin} at size ${p.size}` : "the inclusion proof does not verify", origin: p.origin, size: p.size };
}

// lookup fetches every page of /lookup/<tag> and checks each event.
async function lookup(logURL, t) {
  const results = [];
  let after = "";
  for (let page = 0; page < 1000; page++) {
    const resp = await fetch(logURL.replace(/\/$/, "") + "/lookup/" + encodeURIComponent(t) + after);
    if (!resp.ok) throw new Error(`the log answered ${resp.status}: ${(await resp.text()).trim()}`);
    const body = await resp.json();
    for (const e of body.events) results.push(await checkEvent(e, t));
    if (body.next === undefined || body.next === null) break;
    after = "?after=" + body.next;
  }
  return results;
}

if (typeof module !== "undefined") module.exports = { tag, parseProof, verifyInclusion, leafHash, checkEvent, lookup };
