/**
 * The approvers' page at /approvals: sign in with a bearer token, see pending
 * requests, approve or reject them with a note.
 *
 * Security: the token lives in sessionStorage and travels only in the
 * Authorization header, never in a URL. Every value shown (arguments are
 * attacker-controlled) is written with textContent, never parsed as HTML, and
 * a strict Content-Security-Policy allows only this page's own nonce'd script.
 */

const STYLE = `
[hidden] { display: none !important; }
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; }
.muted { color: #667; font-size: .9rem; }
form, .bar { display: flex; gap: 8px; align-items: center; margin: 16px 0; flex-wrap: wrap; }
input[type=password], input[type=text], select { padding: 6px 8px; border: 1px solid #bbc; border-radius: 6px; }
input[type=password] { width: 380px; }
button { padding: 6px 12px; border-radius: 6px; border: 1px solid #889; background: #fff; cursor: pointer; }
button.approve { background: #0a7d32; color: #fff; border-color: #0a7d32; }
button.reject { background: #b3261e; color: #fff; border-color: #b3261e; }
#status { min-height: 1.4em; margin: 8px 0; }
#status.error { color: #b3261e; }
.card { background: #fff; border: 1px solid #dde; border-radius: 10px; padding: 14px 16px; margin: 12px 0; }
.card.highlight { border-color: #2b59c3; box-shadow: 0 0 0 2px #2b59c355; }
.card h2 { font-size: 1.05rem; margin: 0 0 6px; }
.meta { display: grid; grid-template-columns: 140px 1fr; gap: 2px 12px; font-size: .9rem; }
.meta dt { color: #667; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f1f2f5; padding: 8px; border-radius: 6px; max-height: 240px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .8rem; background: #e7e9ee; }
.badge.pending { background: #fff2cc; } .badge.approved { background: #d7f5df; } .badge.rejected { background: #fde0dd; }
.actions { display: flex; gap: 8px; margin-top: 10px; align-items: center; flex-wrap: wrap; }
.actions input { flex: 1; min-width: 200px; }
`;

const SCRIPT = `
"use strict";
const KEY = "stage0-guard-token";
const $ = (id) => document.getElementById(id);
const el = (tag, props, ...children) => {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c);
  return node;
};
const status = (text, isError) => { $("status").textContent = text; $("status").className = isError ? "error" : ""; };
const token = () => sessionStorage.getItem(KEY);

async function api(path, options) {
  const res = await fetch(path, {
    ...options,
    headers: { authorization: "Bearer " + token(), "content-type": "application/json" },
  });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new Error((body && body.message) || ("HTTP " + res.status));
  return body;
}

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

function row(dl, label, value) { dl.append(el("dt", { textContent: label }), el("dd", { textContent: value })); }

function card(a, viewer) {
  const c = el("section", { className: "card", id: "approval-" + a.id });
  c.dataset.id = a.id;
  if (location.hash === "#" + a.id) c.classList.add("highlight");
  c.append(el("h2", {}, el("span", { textContent: a.tool + " " }), el("span", { className: "badge " + a.status, textContent: a.status })));
  const dl = el("dl", { className: "meta" });
  row(dl, "Requested by", a.principal + " (" + a.role + ")");
  row(dl, "Requested", age(a.created_at) + " (" + a.created_at + ")");
  row(dl, "Expires", a.expires_at);
  row(dl, "Verdict", a.verdict + " / " + a.decision + " (" + a.kind + ")");
  row(dl, "Reason", a.reason);
  row(dl, "Request ID", a.request_id);
  row(dl, "Policy version", a.policy_version);
  if (a.decided_by) row(dl, "Decided by", a.decided_by + " at " + a.decided_at + (a.note ? " — " + a.note : ""));
  const args = el("pre", { className: "args", textContent: JSON.stringify(a.arguments, null, 2) });
  c.append(dl, el("div", { className: "muted", textContent: "Arguments (sha256 " + a.arguments_sha256.slice(0, 16) + "…)" }), args);
  // The list cuts long arguments; an approver sees them whole before deciding.
  if (a.arguments_truncated) api("/api/approvals/" + encodeURIComponent(a.id))
    .then((b) => { args.textContent = JSON.stringify(b.approval.arguments, null, 2); })
    .catch(() => { args.textContent += " (cut for the list; the full arguments could not be loaded)"; });
  if (a.status === "pending" && viewer.role === "admin" && viewer.principal !== a.principal) {
    const note = el("input", { type: "text", placeholder: "Note (optional)", maxLength: 1000, className: "note" });
    const decide = (action) => async () => {
      try {
        await api("/api/approvals/" + encodeURIComponent(a.id) + "/" + action, { method: "POST", body: JSON.stringify({ note: note.value }) });
        status((action === "approve" ? "Approved " : "Rejected ") + a.tool + " for " + a.principal + ".");
        await load();
      } catch (e) { status(e.message, true); }
    };
    c.append(el("div", { className: "actions" }, note,
      el("button", { className: "approve", textContent: "Approve", onclick: decide("approve") }),
      el("button", { className: "reject", textContent: "Reject", onclick: decide("reject") })));
  } else if (a.status === "pending" && viewer.principal === a.principal) {
    c.append(el("p", { className: "muted", textContent: "Your own request: another admin must decide it." }));
  }
  return c;
}

async function load() {
  if (!token()) return showSignIn();
  const filter = $("filter").value;
  try {
    const body = await api("/api/approvals" + (filter ? "?status=" + encodeURIComponent(filter) : ""));
    $("who").textContent = "Signed in as " + body.viewer.principal + " (" + body.viewer.role + ")";
    $("signin").hidden = true; $("app").hidden = false;
    const list = $("list");
    list.replaceChildren(...body.approvals.map((a) => card(a, body.viewer)));
    if (body.approvals.length === 0) list.append(el("p", { className: "muted", textContent: "No " + (filter || "") + " requests." }));
  } catch (e) {
    if (/token|Authorization/i.test(e.message)) { sessionStorage.removeItem(KEY); showSignIn(); }
    status(e.message, true);
  }
}

function showSignIn() { $("signin").hidden = false; $("app").hidden = true; }

$("signin").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $("token").value.trim());
  $("token").value = "";
  status("");
  load();
});
$("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showSignIn(); status("Signed out."); });
$("refresh").addEventListener("click", () => load());
$("filter").addEventListener("change", () => load());
load();
`;

export function approvalsPage(): Response {
	const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
	const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Approvals · stage0-edge-guard</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>Approvals</h1>
<div class="muted">Requests that Stage0 or the local rules held for a person. Approve only what you have checked; an approval allows one call with exactly these arguments.</div>
<form id="signin" autocomplete="off">
  <label for="token">Bearer token</label>
  <input id="token" type="password" required minlength="16" placeholder="sg_…">
  <button type="submit">Sign in</button>
</form>
<div id="app" hidden>
  <div class="bar">
    <span id="who"></span>
    <select id="filter" aria-label="Status">
      <option value="pending" selected>Pending</option>
      <option value="approved">Approved</option>
      <option value="rejected">Rejected</option>
      <option value="used">Used</option>
      <option value="expired">Expired</option>
      <option value="">All</option>
    </select>
    <button id="refresh" type="button">Refresh</button>
    <button id="signout" type="button">Sign out</button>
  </div>
  <div id="list"></div>
</div>
<div id="status" role="status"></div>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
	return new Response(html, {
		headers: {
			"content-type": "text/html; charset=utf-8",
			"content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
			"referrer-policy": "no-referrer",
			"x-content-type-options": "nosniff",
			"cache-control": "no-store",
		},
	});
}
