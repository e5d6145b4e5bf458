// app.js: the patient page's UI (no inline scripts: the server's
// Content-Security-Policy forbids them). The log asked is the one this page
// is served from (<log>/patient/); everything is verified with the bundle.
//
// The bundle comes from a file, a QR code (BarcodeDetector, where the
// browser has it), pasted text, or the URL fragment #bundle=<base64url>
// (for links and headless tests: browsers never send the fragment to the
// server, and the page removes it from the address bar and history). It is
// kept in localStorage only when the patient ticks "remember".
"use strict";

const $ = (id) => document.getElementById(id);
const STORE = "htlog-patient-bundle";
let current = null; // the text of the bundle in use, kept in memory only

function fromBase64URL(s) {
  s = s.replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/");
  return new TextDecoder().decode(Uint8Array.from(atob(s + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)));
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function say(id, text, cls) {
  $(id).textContent = text;
  $(id).className = cls || "";
}

// useBundle parses the bundle text and, if it is valid, looks up the events.
async function useBundle(text) {
  delete $("status").dataset.done;
  delete $("bundlestatus").dataset.done;
  let pb;
  try {
    pb = await parseBundle(text.trim());
  } catch (e) {
    say("bundlestatus", "This bundle cannot be used: " + e.message, "bad");
    $("bundlestatus").dataset.done = "true";
    return;
  }
  current = text.trim();
  if ($("remember").checked) localStorage.setItem(STORE, current);
  $("forget").hidden = false;
  say("bundlestatus", `Bundle opened: your records at ${pb.bundle.custodian}, checked against your witness policy` +
    (pb.monitors.length ? ` and ${pb.monitors.length} monitor${pb.monitors.length > 1 ? "s" : ""} (${pb.monitors.map((m) => m.name).join(", ")}).` : "; it names no monitor."), "ok");
  await show(pb);
}

async function show(pb) {
  const log = new URL("..", location.href).href.replace(/\/$/, ""); // the log serves this page at <log>/patient/
  const list = $("events");
  list.textContent = "";
  $("results").hidden = false;
  say("checkpoint", "");
  say("status", "Looking up your records …");
  try {
    let origin = null;
    try {
      const cp = await latestCheckpoint(log, pb.policy);
      origin = cp.origin;
      say("checkpoint", `The log (${cp.origin}) is signed by its key and countersigned by ${cp.cosigners.join(", ") || "no witness (your policy asks for none)"}: ${cp.size} entries in all.`, "ok");
    } catch (e) {
      say("checkpoint", "✗ The log's latest checkpoint does not verify against your policy: " + e.message, "bad");
    }
    if (pb.log !== log) {
      $("checkpoint").textContent += ` Your bundle names the log at ${pb.log}; this page asks the log it is served from, and checks it with your bundle's policy all the same.`;
    }
    let names = null, namesErr = "";
    try {
      names = await fetchRegistry(log, pb.policy);
    } catch (e) {
      namesErr = e.message;
    }
    const sets = await fetchValueSets(log);
    const results = await lookup(log, pb.tag, pb.policy);
    // What each monitor found, for the entries that verified.
    const verdicts = new Map();
    const indexes = results.filter((r) => r.ok).map((r) => r.index);
    await Promise.all(pb.monitors.map(async (m) => {
      try {
        verdicts.set(m.name, { map: indexes.length ? await fetchVerdicts(m, origin || pb.policy.logs[0].origin, indexes) : new Map() });
      } catch (e) {
        verdicts.set(m.name, { err: e.message });
      }
    }));
    for (const r of results.slice().reverse()) list.appendChild(card(r, names, pb, sets, verdicts));
    const bad = results.filter((r) => !r.ok).length;
    let text = results.length === 0 ? "No entries about you are in the log yet (a bundle for another provider finds nothing either)."
      : `${results.length} entr${results.length === 1 ? "y" : "ies"} about you, newest first` + (bad ? `; ${bad} could NOT be verified.` : ".") +
        ` Times are in your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`;
    if (names === null) text += " Organisation names are not shown: the log's registry could not be verified (" + namesErr + ").";
    say("status", text, bad ? "bad" : "");
  } catch (e) {
    say("status", "The lookup failed: " + e.message, "bad");
  }
  $("status").dataset.done = "true";
}

// card renders one event: what happened, its marks, whether it is in the
// log, and (separately) what each monitor found.
function card(r, names, pb, sets, verdicts) {
  const d = describe(r.ev, names, pb.openings, sets, undefined);
  const li = el("li", "event" + (d.breakGlass ? " breakglass" : "") + (d.disclosure ? " disclosure" : ""));
  li.dataset.entry = r.index;
  const when = el("p", "when");
  const time = el("time", "", d.when);
  time.dateTime = r.ev.occurred_at;
  when.appendChild(time);
  li.appendChild(when);
  li.appendChild(el("p", "sentence", d.sentence));
  if (d.breakGlass) li.appendChild(el("p", "mark mark-breakglass", "⚠ Emergency access (break-glass)."));
  if (d.disclosure) li.appendChild(el("p", "mark mark-disclosure", "⇢ " + d.disclosure));
  li.appendChild(el("p", r.ok ? "inlog" : "inlog notverified", r.ok ? inLogText(r.index) : "✗ NOT verified in the log: " + r.why));
  if (pb.monitors.length > 0) {
    const h = el("p", "verdicts-h", "What the monitors found:");
    li.appendChild(h);
    const ul = el("ul", "verdicts");
    for (const m of pb.monitors) {
      const got = verdicts.get(m.name) || { err: "no answer" };
      let text, cls;
      const v = got.map && got.map.get(r.index);
      if (!r.ok) {
        text = "not asked (the entry did not verify)"; cls = "unknown";
      } else if (got.err) {
        text = "not verified (" + got.err + ")"; cls = "unknown";
      } else if (!v) {
        text = "not verified (the monitor said nothing about this entry)"; cls = "unknown";
      } else if (v.event_id && v.event_id !== r.eventID) {
        text = "not verified (the monitor's verdict is about another event)"; cls = "unknown";
      } else {
        text = verdictText(v, undefined);
        cls = { allowed: "allowed", permitted_disclosure: "allowed", under_review: "review", flagged: "flagged", no_finding: "neutral", not_checked_yet: "neutral" }[v.status];
      }
      ul.appendChild(el("li", "verdict verdict-" + cls, `${m.name}: ${text}`));
    }
    li.appendChild(ul);
  }
  return li;
}

$("file").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  if (file) await useBundle(await file.text());
});
$("usepaste").addEventListener("click", () => useBundle($("paste").value));
$("remember").addEventListener("change", () => {
  if (!$("remember").checked) localStorage.removeItem(STORE);
  else if (current !== null) localStorage.setItem(STORE, current);
});
$("forget").addEventListener("click", () => {
  localStorage.removeItem(STORE);
  current = null;
  $("remember").checked = false;
  $("paste").value = "";
  $("file").value = "";
  $("events").textContent = "";
  $("results").hidden = true;
  $("forget").hidden = true;
  say("bundlestatus", "Your bundle is forgotten: this page no longer holds it.");
});

// The camera: BarcodeDetector reads the QR code, where the browser has it.
if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  $("scan").hidden = false;
  $("scan").addEventListener("click", async () => {
    const video = $("camera");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      say("bundlestatus", "The camera could not be opened (" + e.message + "): choose the file or paste the bundle instead.", "bad");
      return;
    }
    const detector = new BarcodeDetector({ formats: ["qr_code"] });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    say("bundlestatus", "Hold the QR code in front of the camera …");
    const stop = () => { stream.getTracks().forEach((t) => t.stop()); video.hidden = true; };
    for (let i = 0; i < 600; i++) {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length > 0) {
        stop();
        await useBundle(codes[0].rawValue);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    stop();
    say("bundlestatus", "No QR code was read: choose the file or paste the bundle instead.", "bad");
  });
}

// openFromLink opens a bundle given in the URL fragment (#bundle=...).
function openFromLink() {
  if (!location.hash.startsWith("#bundle=")) return false;
  const data = location.hash.slice("#bundle=".length);
  history.replaceState(null, "", location.pathname + location.search);
  let text = null;
  try {
    text = fromBase64URL(decodeURIComponent(data));
  } catch (e) {
    say("bundlestatus", "The bundle in the link is not valid base64.", "bad");
    $("bundlestatus").dataset.done = "true";
  }
  if (text !== null) useBundle(text);
  return true;
}

window.addEventListener("hashchange", openFromLink);
if (!openFromLink() && localStorage.getItem(STORE)) {
  $("remember").checked = true;
  useBundle(localStorage.getItem(STORE));
}
