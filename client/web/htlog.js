// htlog.js: the patient-side checks of an htlog lookup, in the browser, with
// WebCrypto only (HMAC-SHA-256, SHA-256, Ed25519). It
//   - parses a C2SP tlog-policy the patient supplies (never the server's word),
//   - verifies a checkpoint's Ed25519 signed-note signature by the policy's
//     log and the witnesses' cosignature/v1 signatures, and the quorum,
//   - computes the tag exactly as Go's event.Tag does (only the tag is sent),
//   - fetches /lookup/<tag> and, for each event, recomputes the entry's leaf
//     hash and verifies its RFC 6962 inclusion proof against the root of the
//     verified checkpoint in the event's tlog-proof.
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

// summary picks what a patient wants to see from an event: when, what, who, why.
function summary(ev) {
  const b = ev.body || {};
  const purposes = Array.isArray(b.provisions) ? [...new Set(b.provisions.flatMap((p) => p.purpose || []))].join(", ") : "";
  return {
    when: ev.occurred_at, kind: ev.kind,
    org: (b.agent && b.agent.organization) || (ev.submitter && ev.submitter.org),
    purpose: b.purpose_of_use || (b.scope && purposes ? `${b.scope} (${purposes})` : b.scope) || b.biz_step || b.action || "-",
  };
}

// checkEvent verifies one /lookup result against the policy (a parsePolicy
// result); cache, if given, maps checkpoint texts to verification promises.
async function checkEvent(e, wantTag, policy, cache = new Map()) {
  // The logged entry is the canonical envelope: compact JSON in the field
  // order payloadType, payload, signatures[{keyid, sig}], which is what
  // JSON.stringify gives for the parsed object.
  const entry = enc.encode(JSON.stringify(e.envelope));
  const ev = JSON.parse(new TextDecoder().decode(b64(e.envelope.payload)));
  const out = { index: e.index, ...summary(ev), ok: false };
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

if (typeof module !== "undefined") {
  module.exports = { tag, parsePolicy, verifyCheckpoint, parseProof, verifyInclusion, leafHash, checkEvent, lookup, latestCheckpoint };
}
