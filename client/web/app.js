// app.js: the patient page's UI (no inline scripts: the server's
// Content-Security-Policy forbids them). The log is the URL this page is
// served under (<log>/patient/).
//
// For bookmarks and headless tests the page also reads its inputs from the
// URL fragment, #key=<hex>&id=<provider id>&policy=<base64 policy>: browsers
// never send the fragment to the server. The page removes it from the
// address bar and history once read, and then runs the lookup.
"use strict";

const $ = (id) => document.getElementById(id);

function fromBase64(s) {
  s = s.replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/");
  return new TextDecoder().decode(Uint8Array.from(atob(s + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)));
}

async function run() {
  const status = $("status"), cpLine = $("checkpoint"), table = $("out"), tbody = table.querySelector("tbody");
  tbody.textContent = ""; table.hidden = true;
  status.className = cpLine.className = ""; cpLine.textContent = "";
  const log = new URL("..", location.href).href; // the log serves this page at <log>/patient/
  try {
    if ($("policy").value.trim() === "") throw new Error("Paste the witness policy first: without it nothing can be verified.");
    const policy = await parsePolicy($("policy").value);
    try {
      const cp = await latestCheckpoint(log, policy);
      cpLine.textContent = `✓ The log's latest checkpoint (${cp.origin}, size ${cp.size}) is signed by its key and cosigned by ${cp.cosigners.join(", ") || "no witness"}.`;
      cpLine.className = "ok";
    } catch (e) {
      cpLine.textContent = "✗ The log's latest checkpoint does not verify against your policy: " + e.message;
      cpLine.className = "bad";
    }
    // Your key is yours alone; the provider's id makes the tag differ from
    // provider to provider (event.PatientTag).
    const t = await tag($("key").value, "patient:" + $("id").value.trim());
    status.textContent = "Looking up " + t + " …";
    const results = await lookup(log, t, policy);
    for (const r of results) {
      const tr = tbody.insertRow();
      tr.className = r.ok ? "verified" : "not-verified";
      tr.dataset.check = tr.className;
      for (const v of [r.when, r.kind, r.org, r.purpose, r.index, (r.ok ? "✓ verified: " : "✗ NOT verified: ") + r.why]) tr.insertCell().textContent = v;
      tr.lastChild.className = "check";
    }
    table.hidden = results.length === 0;
    const bad = results.filter((r) => !r.ok).length;
    status.textContent = results.length === 0 ? "No published events carry this tag (a wrong key or provider id finds nothing too)."
      : `${results.length} events, ${results.length - bad} verified` + (bad ? `, ${bad} NOT verified` : "") + ".";
    status.className = bad ? "bad" : "ok";
  } catch (e) {
    status.textContent = e.message; status.className = "bad";
  }
  status.dataset.done = "true";
}

$("f").addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
$("policyfile").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  if (file) $("policy").value = await file.text();
});

if (location.hash.length > 1) {
  const params = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", location.pathname + location.search);
  if (params.has("key")) $("key").value = params.get("key");
  if (params.has("id")) $("id").value = params.get("id");
  try {
    if (params.has("policy")) $("policy").value = fromBase64(params.get("policy"));
  } catch (e) {
    $("status").textContent = "The policy in the link is not valid base64.";
  }
  if ($("key").value && $("id").value && $("policy").value) run();
}
