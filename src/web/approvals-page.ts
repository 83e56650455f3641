/**
 * The approvers' page at /approvals, for a signed-in approver (src/web/sign-in.ts):
 * see the requests the guard holds with what the
 * authority said (reason, risk, issues, questions), and approve or reject
 * them, after a confirmation, with a note.
 *
 * As a person uses it: a linked request (`#<id>` or `?id=<id>`) is shown first, scrolled into
 * view and focused; the result of an action appears on the card that was
 * clicked; times are relative ("expires in 12 min"); pending requests refresh
 * by themselves; requester and tool filters narrow the list.
 *
 * Security: the page holds no credential. The browser session is an HttpOnly
 * cookie the page's script cannot read; its CSRF token, served in the page,
 * goes with every change (X-CSRF-Token). Every value shown (arguments are attacker-controlled) is written with
 * textContent, never parsed as HTML; a strict Content-Security-Policy allows
 * only this page's own nonce'd script and style; framing is refused.
 */

import { approverScript } from "./approver-script";
import { escapeHtml, newNonce, pageResponse } from "./html";

/** How often pending requests refresh by themselves while the page is visible. */
export const POLL_MS = 5000;

const STYLE = `
[hidden] { display: none !important; }
* { box-sizing: border-box; }
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; }
.muted { color: #5d6270; font-size: .9rem; }
form, .bar { display: flex; gap: 8px; align-items: center; margin: 12px 0; flex-wrap: wrap; }
label { display: inline-flex; gap: 6px; align-items: center; }
input, select, button { font: inherit; min-height: 44px; }
input[type=password], input[type=text], select { padding: 6px 8px; border: 1px solid #aab; border-radius: 6px; background: #fff; min-width: 0; }
input[type=password] { width: 380px; max-width: 100%; }
button { padding: 6px 14px; border-radius: 6px; border: 1px solid #889; background: #fff; cursor: pointer; }
button:disabled { opacity: .55; cursor: not-allowed; }
button.approve { background: #0a7d32; color: #fff; border-color: #0a7d32; }
button.reject { background: #b3261e; color: #fff; border-color: #b3261e; }
#status { min-height: 1.4em; margin: 8px 0; }
.error { color: #b3261e; }
.card { background: #fff; border: 1px solid #dde; border-radius: 10px; padding: 14px 16px; margin: 12px 0; scroll-margin-top: 12px; }
.card:focus { outline: 3px solid #2b59c3; outline-offset: 2px; }
.card.highlight { border-color: #2b59c3; box-shadow: 0 0 0 2px #2b59c355; }
.card h2 { font-size: 1.05rem; margin: 0 0 6px; display: flex; gap: 8px; flex-wrap: wrap; align-items: center; overflow-wrap: anywhere; }
.linked-label { font-size: .85rem; color: #2b59c3; font-weight: 600; margin: 0 0 4px; }
.meta { display: grid; grid-template-columns: 150px minmax(0, 1fr); gap: 4px 12px; font-size: .92rem; margin: 8px 0; }
.meta dt { color: #5d6270; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.meta ul { margin: 0; padding-left: 18px; }
pre { background: #f1f2f5; padding: 8px; border-radius: 6px; max-height: 280px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .8rem; background: #e7e9ee; }
.badge.pending { background: #fff2cc; } .badge.approved { background: #d7f5df; } .badge.rejected { background: #fde0dd; }
.badge.high { background: #fde0dd; }
.actions { display: flex; gap: 8px; margin-top: 10px; align-items: center; flex-wrap: wrap; }
.actions input { flex: 1 1 220px; }
.confirm { border: 1px solid #c9ccd6; background: #f7f8fb; border-radius: 8px; padding: 10px; margin-top: 10px; }
.confirm p { margin: 0 0 8px; }
.result { margin: 10px 0 0; font-weight: 600; }
details { margin: 0 0 6px; } summary { cursor: pointer; min-height: 28px; }
.result.ok { color: #0a6a2b; }
@media (max-width: 640px) {
  body { padding: 12px; }
  .meta { grid-template-columns: minmax(0, 1fr); gap: 0; }
  .meta dt { margin-top: 8px; }
  .bar label, .bar select { flex: 1 1 100%; }
  .actions button, .confirm button { flex: 1 1 40%; }
}
`;

// After approverScript's start (ID_PATTERN, $, status); no template literals: it lives inside one. Every value goes through textContent.
const SCRIPT = approverScript(`
const CSRF = document.querySelector("meta[name=csrf-token]").content;
const POLL_MS = __POLL_MS__;
const el = (tag, props, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "role" || k.startsWith("aria-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
};

const state = {
  viewer: null,
  items: [],          // the loaded pages of the list, newest first
  nextCursor: null,
  linkedId: null,     // from #<id>
  linked: null,       // { record } or { missing: message }
  scrolledTo: null,   // the linked id already brought into view
  decided: new Map(), // id -> { record, message, ok }: kept on screen where the person clicked
  full: new Map(),    // id -> full arguments, for list items that arrived truncated
  nodes: new Map(),   // id -> { key, node }: cards kept across refreshes (notes being typed survive)
  updatedAt: 0,
  busy: false,
  again: false,
  signingOut: false,  // the person clicked Sign out: a 401 now is that, not an ended session
};

class HttpError extends Error { constructor(status, message) { super(message); this.status = status; } }

async function api(path, options) {
  const res = await fetch(path, {
    ...options,
    headers: { "content-type": "application/json", "x-csrf-token": CSRF },
  });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new HttpError(res.status, (body && body.message) || ("HTTP " + res.status));
  return body;
}

// "expires in 12 min", "requested 3 min ago"; the exact time is in the title.
function relative(iso) {
  const ms = Date.parse(iso) - Date.now();
  const s = Math.round(Math.abs(ms) / 1000);
  let span;
  if (s < 45) return ms >= 0 ? "in less than a minute" : "just now";
  if (s < 5400) span = Math.round(s / 60) + " min";
  else if (s < 129600) span = Math.round(s / 3600) + " h";
  else span = Math.round(s / 86400) + " days";
  return ms >= 0 ? "in " + span : span + " ago";
}
function timeSpan(iso, prefix) {
  const span = el("span", { className: "time", title: new Date(iso).toString() });
  span.dataset.at = iso;
  span.dataset.prefix = prefix || "";
  span.textContent = span.dataset.prefix + relative(iso);
  return span;
}
function tickTimes() {
  for (const span of document.querySelectorAll("span.time")) span.textContent = span.dataset.prefix + relative(span.dataset.at);
  if (state.updatedAt) $("updated").textContent = "Updated " + relative(new Date(state.updatedAt).toISOString());
}

function row(dl, label, value) {
  dl.append(el("dt", { textContent: label }), typeof value === "string" ? el("dd", { textContent: value }) : el("dd", {}, value));
}
function list(items, render) { return el("ul", {}, ...items.map((i) => el("li", { textContent: render(i) }))); }

function expiryLabel(a) {
  if (a.status === "pending") return "expires ";
  if (a.status === "approved") return "usable for one call, expires ";
  return "expired ";
}

function card(a, linked) {
  const decided = state.decided.get(a.id);
  const c = el("section", { className: "card" + (linked ? " highlight" : ""), id: "approval-" + a.id, tabIndex: -1 });
  c.dataset.id = a.id;
  c.setAttribute("aria-label", a.tool + " requested by " + a.principal);
  if (linked) c.append(el("p", { className: "linked-label", textContent: "The request you were linked to" }));
  const title = el("h2", {}, el("span", { textContent: a.tool }), el("span", { className: "badge " + a.status, textContent: a.status }));
  if (a.high_risk) title.append(el("span", { className: "badge high", textContent: "high risk" }));
  c.append(title);

  const dl = el("dl", { className: "meta" });
  row(dl, "Requested by", a.principal + " (" + a.role + ")");
  const when = el("span", {}, timeSpan(a.created_at, "requested "));
  if (a.status === "pending" || a.status === "approved" || a.status === "expired") when.append(" · ", timeSpan(a.expires_at, expiryLabel(a)));
  row(dl, "When", when);
  row(dl, "Verdict", a.verdict + " / " + a.decision + " (" + ({ authority: "the authority refused", rule: "a local rule needs an approval", loop: "the loop limit was reached" }[a.kind] || a.kind) + ")");
  row(dl, "Reason", a.reason);
  row(dl, "Risk", a.risk_score === null || a.risk_score === undefined ? "not scored" : a.risk_score + " / 100" + (a.high_risk ? " (high risk)" : ""));
  if (a.issues && a.issues.length) row(dl, "Issues", list(a.issues, (i) => "[" + i.severity + "] " + i.code + ": " + i.message));
  if (a.questions && a.questions.length) row(dl, "Questions", list(a.questions, (q) => q));
  if (a.guardrails && a.guardrails.length) row(dl, "Guardrails", a.guardrails.join(", "));
  if (a.decided_by) row(dl, "Decided", el("span", {}, a.decided_by + " ", timeSpan(a.decided_at), a.note ? " — " + a.note : ""));
  const record = el("dl", { className: "meta" });
  row(record, "Request ID", a.request_id);
  row(record, "Policy version", a.policy_version);
  row(record, "Approval ID", a.id);
  c.append(dl, el("details", {}, el("summary", { className: "muted", textContent: "Audit references" }), record));

  const full = state.full.get(a.id);
  const args = full || a.arguments;
  const truncated = a.arguments_truncated === true && !full;
  c.append(el("div", { className: "muted", textContent: "Arguments (sha256 " + a.arguments_sha256.slice(0, 16) + "…)" + (truncated ? ": shortened in the list, loading them in full…" : "") }),
    el("pre", { className: "args", textContent: JSON.stringify(args, null, 2) }));
  if (truncated) loadFull(a.id);

  if (decided) {
    c.append(el("p", { className: "result " + (decided.ok ? "ok" : "error"), role: "status", textContent: decided.message }));
  }
  if (a.status === "pending" && state.viewer.role === "admin" && state.viewer.principal !== a.principal) {
    c.append(actions(a, truncated));
  } else if (a.status === "pending" && state.viewer.principal === a.principal) {
    c.append(el("p", { className: "muted", textContent: "Your own request: another admin must decide it." }));
  } else if (a.status === "pending") {
    c.append(el("p", { className: "muted", textContent: "Only an admin can decide it." }));
  }
  return c;
}

function actions(a, waiting) {
  const box = el("div", { className: "actions" });
  const note = el("input", { type: "text", placeholder: "Note (optional)", maxLength: 1000, className: "note", "aria-label": "Note" });
  const ask = (action) => () => {
    const verb = action === "approve" ? "Approve" : "Reject";
    const text = action === "approve"
      ? "Approve? " + a.principal + " may then run " + a.tool + " once, with exactly the arguments above, within the approval's validity."
      : "Reject? " + a.principal + "'s call of " + a.tool + " stays refused.";
    const yes = el("button", { type: "button", className: action + " confirm-yes", textContent: "Yes, " + verb.toLowerCase() });
    const no = el("button", { type: "button", className: "confirm-no", textContent: "Cancel" });
    const panel = el("div", { className: "confirm", role: "group" }, el("p", { textContent: text }), el("div", { className: "actions" }, yes, no));
    no.onclick = () => { panel.replaceWith(box); box.querySelector("button." + action).focus(); };
    yes.onclick = async () => {
      yes.disabled = true; no.disabled = true; yes.textContent = verb + "…";
      await decide(a, action, note.value);
    };
    box.replaceWith(panel);
    yes.focus();
  };
  const approve = el("button", { type: "button", className: "approve", textContent: "Approve…", disabled: waiting, onclick: ask("approve") });
  const reject = el("button", { type: "button", className: "reject", textContent: "Reject…", onclick: ask("reject") });
  box.append(note, approve, reject);
  return box;
}

async function decide(a, action, note) {
  try {
    const body = await api("/api/approvals/" + encodeURIComponent(a.id) + "/" + action, { method: "POST", body: JSON.stringify({ note: note }) });
    const message = action === "approve"
      ? "Approved " + a.tool + " for " + a.principal + ". It can be used once, with these arguments, by a retry that carries approvalId " + a.id + "."
      : "Rejected " + a.tool + " for " + a.principal + ".";
    state.decided.set(a.id, { record: body.approval, message: message, ok: true });
  } catch (e) {
    if (e.status === 401) return signedOut();
    let record = a;
    try { record = (await api("/api/approvals/" + encodeURIComponent(a.id))).approval; } catch (ignored) {}
    state.decided.set(a.id, { record: record, message: "Not done: " + e.message, ok: false });
  }
  render();
  const node = $("approval-" + a.id);
  if (node) node.focus({ preventScroll: true });
}

async function loadFull(id) {
  if (state.full.has(id) || loadFull.pending.has(id)) return;
  loadFull.pending.add(id);
  try {
    const body = await api("/api/approvals/" + encodeURIComponent(id));
    state.full.set(id, body.approval.arguments);
    render();
  } catch (e) {
    status("Could not load the full arguments of " + id + ": " + e.message, true);
  } finally { loadFull.pending.delete(id); }
}
loadFull.pending = new Set();

// Cards are rebuilt only when what they show changed, so a refresh keeps a note being typed.
function keyOf(a, linked) {
  const d = state.decided.get(a.id);
  return [a.status, a.decided_at, a.expires_at, linked, state.full.has(a.id), d ? d.message : ""].join("|");
}
function cardNode(a, linked) {
  const key = keyOf(a, linked);
  const kept = state.nodes.get(a.id);
  if (kept && kept.key === key) return kept.node;
  const node = card(a, linked);
  state.nodes.set(a.id, { key: key, node: node });
  return node;
}

function shown(a) { const d = state.decided.get(a.id); return d ? d.record : a; }

// Changes the DOM only when the nodes or their order changed (a refresh must not steal focus).
function place(box, nodes) {
  const now = [...box.childNodes];
  if (now.length === nodes.length && now.every((n, i) => n === nodes[i])) return;
  box.replaceChildren(...nodes);
}

function fillFilter(select, values, anyLabel) {
  if (select.dataset.values === values.join("|")) return;
  select.dataset.values = values.join("|");
  const current = select.value;
  const options = [el("option", { value: "", textContent: anyLabel })].concat(values.map((v) => el("option", { value: v, textContent: v })));
  select.replaceChildren(...options);
  select.value = values.includes(current) ? current : "";
}

function render() {
  const linkedBox = $("linked");
  let linkedNode = null;
  if (state.linkedId && state.linked) {
    if (state.linked.record) linkedNode = cardNode(shown(state.linked.record), true);
    place(linkedBox, [linkedNode || el("p", { className: "error", textContent: state.linked.missing })]);
  } else place(linkedBox, []);

  // The list: loaded items plus what was just decided here (kept where it was, by time).
  const byId = new Map(state.items.map((a) => [a.id, a]));
  for (const [id, d] of state.decided) if (!byId.has(id)) byId.set(id, d.record);
  const all = [...byId.values()].filter((a) => a.id !== state.linkedId).sort((x, y) => Date.parse(y.created_at) - Date.parse(x.created_at));
  fillFilter($("requester"), [...new Set(all.map((a) => a.principal))].sort(), "Anyone");
  fillFilter($("tool"), [...new Set(all.map((a) => a.tool))].sort(), "Any tool");
  const who = $("requester").value, tool = $("tool").value;
  const visible = all.filter((a) => (!who || a.principal === who) && (!tool || a.tool === tool));
  const nodes = visible.map((a) => cardNode(shown(a), false));
  if (visible.length === 0) {
    const filter = $("filter").value;
    nodes.push(el("p", { className: "muted", textContent: all.length ? "No request matches these filters." : "No " + (filter ? filter + " " : "") + "requests" + (state.linkedId ? " besides the linked one." : ".") }));
  }
  place($("list"), nodes);
  $("more").hidden = !state.nextCursor;
  tickTimes();

  if (linkedNode && state.scrolledTo !== state.linkedId) {
    state.scrolledTo = state.linkedId;
    linkedNode.scrollIntoView({ block: "start" });
    linkedNode.focus({ preventScroll: true });
  }
}

function page(cursor) {
  const params = new URLSearchParams();
  const filter = $("filter").value;
  if (filter) params.set("status", filter);
  params.set("limit", "50");
  if (cursor) params.set("cursor", cursor);
  return api("/api/approvals?" + params.toString());
}

async function load(options) {
  if (state.busy) { state.again = true; return; } // runs once more when the current load ends
  state.busy = true;
  try {
    const first = await page(null);
    state.viewer = first.viewer;
    $("who").textContent = "Signed in as " + first.viewer.principal + " (" + first.viewer.role + ")";
    // A refresh re-reads the first page; older pages already loaded stay.
    const fresh = first.approvals;
    const oldest = fresh.length ? Date.parse(fresh[fresh.length - 1].created_at) : Infinity;
    const older = first.next_cursor && state.items.length > fresh.length ? state.items.filter((a) => Date.parse(a.created_at) < oldest) : [];
    state.items = fresh.concat(older);
    if (!older.length) state.nextCursor = first.next_cursor || null;
    if (state.linkedId) {
      try {
        state.linked = { record: (await api("/api/approvals/" + encodeURIComponent(state.linkedId))).approval };
      } catch (e) {
        if (e.status === 401) throw e;
        state.linked = { missing: "Request " + state.linkedId + " was not found, or it is not yours to see." };
      }
    }
    state.updatedAt = Date.now();
    if (!(options && options.quiet)) status("");
    render();
  } catch (e) {
    if (e.status === 401) signedOut(); else status(e.message, true);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; load(options); }
  }
}

async function loadMore() {
  if (!state.nextCursor) return;
  try {
    const next = await page(state.nextCursor);
    const seen = new Set(state.items.map((a) => a.id));
    state.items = state.items.concat(next.approvals.filter((a) => !seen.has(a.id)));
    state.nextCursor = next.next_cursor || null;
    render();
  } catch (e) { status(e.message, true); }
}

// The session ended (expired, signed out elsewhere, token withdrawn): sign in again, and come back here.
function signedOut() {
  if (state.signingOut) return; // this person's own sign-out, not an ended session: it says so itself
  const back = "/approvals" + location.search + (state.linkedId ? "#" + state.linkedId : "");
  location.replace("/approvals/sign-in?reason=ended&return_to=" + encodeURIComponent(back));
}

// ?id=<id> or #<id> links a request; #operator=<secret> (npm run dev's approver link) signs in on the sign-in page.
function readLink() {
  const raw = location.hash.slice(1);
  if (raw.indexOf("operator=") !== -1) {
    location.replace("/approvals/sign-in?return_to=" + encodeURIComponent("/approvals" + location.search) + location.hash);
    return false;
  }
  const id = ID_PATTERN.test(raw) ? raw : new URLSearchParams(location.search).get("id");
  state.linkedId = id && ID_PATTERN.test(id) ? id : null;
  return true;
}

$("signout").addEventListener("click", async () => {
  $("signout").disabled = true;
  // A poll answered 401 by the sign-out below must not read as "your sign-in has ended".
  state.signingOut = true;
  try {
    const res = await fetch("/approvals/sign-out", { method: "POST", headers: { "x-csrf-token": CSRF } });
    if (!res.ok) throw new Error(((await res.json().catch(() => null)) || {}).message || "HTTP " + res.status);
    location.replace("/approvals/sign-in?reason=signed-out");
  } catch (e) { state.signingOut = false; $("signout").disabled = false; status("Not signed out: " + e.message, true); }
});
$("refresh").addEventListener("click", () => load());
$("filter").addEventListener("change", () => { state.items = []; state.nextCursor = null; state.decided.clear(); load(); });
$("requester").addEventListener("change", () => render());
$("tool").addEventListener("change", () => render());
$("more").addEventListener("click", () => loadMore());
window.addEventListener("hashchange", () => { if (readLink()) { state.linked = null; load(); } });
setInterval(() => { if (!document.hidden) load({ quiet: true }); }, POLL_MS);
setInterval(tickTimes, 15000);
if (readLink()) load();
`);

/** The page for a signed-in approver; `csrfToken` is their session's. */
export function approvalsPage(csrfToken: string): Response {
	const nonce = newNonce();
	const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${escapeHtml(csrfToken)}">
<title>Approvals · stage0-edge-guard</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>Approvals</h1>
<div class="muted">Requests that Stage0 or the local rules held for a person. Approve only what you have checked; an approval allows one call with exactly these arguments.</div>
<div id="app">
  <div class="bar">
    <span id="who"></span>
    <button id="signout" type="button">Sign out</button>
  </div>
  <div id="linked"></div>
  <div class="bar">
    <label>Status <select id="filter">
      <option value="pending" selected>Pending</option>
      <option value="approved">Approved</option>
      <option value="rejected">Rejected</option>
      <option value="used">Used</option>
      <option value="expired">Expired</option>
      <option value="">All</option>
    </select></label>
    <label>Requester <select id="requester"><option value="">Anyone</option></select></label>
    <label>Tool <select id="tool"><option value="">Any tool</option></select></label>
    <button id="refresh" type="button">Refresh</button>
    <span id="updated" class="muted"></span>
  </div>
  <div id="list"></div>
  <button id="more" type="button" hidden>Load more</button>
</div>
<div id="status" role="status"></div>
<script nonce="${nonce}">${SCRIPT.replace("__POLL_MS__", String(POLL_MS))}</script>
</body>
</html>`;
	return pageResponse(html, nonce);
}
