/**
 * How approvers sign in to the approvals page, and out:
 *   GET  /approvals/sign-in?return_to=…   the sign-in page (a token, or the approver link of `npm run dev`)
 *   POST /approvals/sign-in               {token, return_to} → a browser session cookie, and where to go
 *   POST /approvals/sign-out              ends the session (CSRF token required)
 *   GET  /approvals/session               whether this browser is signed in, and as whom
 *   GET  /approvals/sign-in/oidc?return_to=…   to the OpenID Connect provider (OIDC_ISSUER), when one is configured
 *   GET  /oauth/callback                  back from it (the relying party is src/auth/oidc.ts)
 * The session itself is src/auth/browser-session.ts. A sign-in POST must come
 * from this server's own page (its Origin), so no other site can sign a
 * browser in as someone else.
 */
import { z } from "zod";
import {
	clearSessionCookie,
	csrfRefusal,
	currentSession,
	endSession,
	isOwnOrigin,
	safeReturnTo,
	SIGN_IN_PATH,
	signInLocation,
	signInWithSecret,
	startSession,
} from "../auth/browser-session";
import { beginOidcSignIn, type OidcConfig, readOidcConfig, type SignedInPerson } from "../auth/oidc";
import { type Env, readConfig } from "../config";
import { jsonError, limitBody } from "../http";
import { approverScript } from "./approver-script";
import { escapeHtml, newNonce, pageResponse } from "./html";

const SIGN_IN_BODY_BYTES = 8 * 1024;
const SignInBody = z.object({ token: z.string().min(1).max(600), return_to: z.string().max(1024).optional() }).strict();

function noStore(response: Response): Response {
	response.headers.set("cache-control", "no-store");
	return response;
}

/** The routes under /approvals/ (the page itself is served by the Worker entry). */
export async function handleSignInRoutes(request: Request, env: Env): Promise<Response> {
	const url = new URL(request.url);
	if (url.pathname === SIGN_IN_PATH) {
		if (request.method === "GET") {
			const oidc = oidcConfigFor(request, env);
			const provider = oidc && !(oidc instanceof Response) ? new URL(oidc.issuer).host : undefined;
			return signInPage(env, safeReturnTo(url.searchParams.get("return_to")), url.searchParams.get("reason"), provider);
		}
		if (request.method === "POST") return signIn(request, env);
		return jsonError(405, "method_not_allowed", `${SIGN_IN_PATH} takes GET (the page) and POST (signing in).`, { allow: "GET, POST" });
	}
	if (url.pathname === OIDC_START_PATH) {
		if (request.method !== "GET") return jsonError(405, "method_not_allowed", "Use GET.", { allow: "GET" });
		const oidc = oidcConfigFor(request, env);
		if (oidc instanceof Response) return oidc;
		if (!oidc)
			return jsonError(404, "no_identity_provider", "This server has no OpenID Connect provider (OIDC_ISSUER): sign in with a token.");
		return beginOidcSignIn(oidc, { returnTo: safeReturnTo(url.searchParams.get("return_to")), context: APPROVALS_CONTEXT, request });
	}
	if (url.pathname === "/approvals/sign-out") {
		if (request.method !== "POST") return jsonError(405, "method_not_allowed", "Sign out with POST.", { allow: "POST" });
		return signOut(request, env);
	}
	if (url.pathname === "/approvals/session") {
		if (request.method !== "GET") return jsonError(405, "method_not_allowed", "Use GET.", { allow: "GET" });
		const session = await currentSession(request, env);
		return noStore(
			Response.json(
				session
					? {
							signed_in: true,
							principal: session.caller.principal,
							role: session.caller.role,
							expires_at: new Date(session.expiresAt).toISOString(),
						}
					: { signed_in: false },
			),
		);
	}
	return jsonError(404, "not_found", `No route for ${url.pathname.slice(0, 200)}.`);
}

const OIDC_START_PATH = "/approvals/sign-in/oidc";
/** What a provider sign-in started here carries through the provider and back (kept server-side by oidc.ts). */
const APPROVALS_CONTEXT = { approvals: true } as const;

/** The provider configuration (undefined without OIDC_ISSUER; a 503 saying what is wrong when it is half set). */
function oidcConfigFor(request: Request, env: Env): OidcConfig | Response | undefined {
	const config = readConfig(env);
	const origin = config.edge.publicOrigin ?? new URL(request.url).origin;
	const result = readOidcConfig(config.oidc, origin, env.OAUTH_KV);
	if (!result) return undefined;
	if (!result.ok) return jsonError(503, "server_misconfigured", result.problem);
	return result.config;
}

/** True when a provider sign-in was started by the approvals page's sign-in (not by /authorize). */
export function isApproverSignIn(person: SignedInPerson): boolean {
	return (person.context as { approvals?: unknown } | undefined)?.approvals === true;
}

/**
 * Ends a provider sign-in started by the approvals page: a browser session for
 * the person, as the provider named them (principal, and role from its claims),
 * then back to where they were going. Through the sign-in page, which continues
 * by itself: the provider's redirect is a navigation from another site, so the
 * browser would not send the new SameSite=Strict cookie on its next hop.
 */
export async function finishApproverOidcSignIn(request: Request, env: Env, person: SignedInPerson, issuer: string): Promise<Response> {
	const { setCookie } = await startSession(request, env, {
		principal: person.principal,
		role: person.role,
		method: "oidc",
		credential: `oidc:${issuer}`,
	});
	const headers = new Headers({ location: signInLocation(safeReturnTo(person.returnTo)), "cache-control": "no-store" });
	headers.append("set-cookie", setCookie);
	return new Response(null, { status: 303, headers });
}

async function signIn(request: Request, env: Env): Promise<Response> {
	if (!isOwnOrigin(request, env)) {
		return jsonError(403, "origin_not_allowed", "Sign in on this server's own sign-in page: this request did not come from it.");
	}
	if (!request.headers.get("content-type")?.includes("application/json")) {
		return jsonError(415, "unsupported_media_type", 'Send JSON: {"token": "…"}.');
	}
	const limited = await limitBody(request, SIGN_IN_BODY_BYTES);
	if (!limited) return jsonError(413, "body_too_large", `The sign-in body is over ${SIGN_IN_BODY_BYTES} bytes.`);
	let body: unknown;
	try {
		body = JSON.parse(await limited.text());
	} catch {
		return jsonError(400, "invalid_json", 'The body must be JSON: {"token": "…"}.');
	}
	const parsed = SignInBody.safeParse(body);
	if (!parsed.success) return jsonError(400, "invalid_body", 'The body must be {"token": "…", "return_to": "/approvals…"}.');
	const who = await signInWithSecret(request, env, parsed.data.token.trim());
	if (!who.ok) return noStore(who.response);
	const { setCookie, expiresAt } = await startSession(request, env, {
		principal: who.caller.principal,
		role: who.caller.role,
		method: who.method,
		credential: who.credential,
	});
	return noStore(
		Response.json(
			{
				principal: who.caller.principal,
				role: who.caller.role,
				expires_at: new Date(expiresAt).toISOString(),
				return_to: safeReturnTo(parsed.data.return_to),
			},
			{ headers: { "set-cookie": setCookie } },
		),
	);
}

async function signOut(request: Request, env: Env): Promise<Response> {
	const session = await currentSession(request, env);
	if (session) {
		let formToken: string | null = null;
		if (request.headers.get("content-type")?.includes("application/x-www-form-urlencoded")) {
			const limited = await limitBody(request, SIGN_IN_BODY_BYTES);
			formToken = limited ? new URLSearchParams(await limited.text()).get("csrf_token") : null;
		}
		const refused = await csrfRefusal(request, session, env, formToken);
		if (refused) return noStore(refused);
		await endSession(request, env);
	}
	return noStore(Response.json({ signed_out: true }, { headers: { "set-cookie": clearSessionCookie(request) } }));
}

/** What the page says about signing in on this server. */
function howToSignIn(env: Env, oidcProvider: string | undefined): string {
	const { access } = readConfig(env);
	const tokensConfigured = access.tokens.kind !== "none";
	if (oidcProvider && !tokensConfigured) return `Sign in with your account at ${escapeHtml(oidcProvider)}.`;
	if (tokensConfigured) {
		return "Paste your token (the one <code>npm run token:new</code> made for you). Admins can approve or reject; everyone else sees their own requests.";
	}
	if (access.operatorTokenSha256) {
		return "Open the approver link that <code>npm run dev</code> printed: it signs you in by itself. Or paste its secret (the part after <code>#operator=</code>).";
	}
	return "This server has no tokens and was not started with <code>npm run dev</code>, so it has no approver link: nobody can sign in to approve.";
}

const MESSAGES: Record<string, string> = {
	"signed-out": "Signed out.",
	ended: "Your sign-in has ended (it expired, you signed out elsewhere, or its token was withdrawn). Sign in again.",
};

// After approverScript's start (ID_PATTERN, $, status). The page's return_to comes from the server, already checked.
const SCRIPT = approverScript(`
let target = document.querySelector("meta[name=return-to]").content;
let secret = null;
// #<id> (an approval link) and #operator=<secret>[&id=<id>] (npm run dev's approver link) came with the redirect here.
const raw = location.hash.slice(1);
if (raw) {
  if (raw.indexOf("=") === -1) { if (ID_PATTERN.test(raw)) target = "/approvals#" + raw; }
  else {
    const params = new URLSearchParams(raw);
    secret = params.get("operator");
    const id = params.get("id");
    if (id && ID_PATTERN.test(id)) target = "/approvals#" + id;
  }
  // The secret leaves the address bar (and this history entry) at once.
  history.replaceState(null, "", location.pathname + location.search);
}
async function signIn(value) {
  status("Signing in…");
  let res, body = null;
  try {
    res = await fetch("${SIGN_IN_PATH}", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: value, return_to: target }) });
    try { body = await res.json(); } catch (e) { body = null; }
  } catch (e) { return status("The server could not be reached: " + e.message, true); }
  if (!res.ok) return status((body && body.message) || ("Sign-in failed (HTTP " + res.status + ")."), true);
  location.replace(body.return_to);
}
$("signin").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const value = $("token").value.trim();
  $("token").value = "";
  signIn(value);
});
const oidc = $("oidc");
if (oidc) oidc.href = oidc.dataset.base + "?return_to=" + encodeURIComponent(target);
if (secret) signIn(secret);
else {
  // A link followed from another site arrives without the (SameSite=Strict) cookie: a same-site check says whether this browser is signed in.
  fetch("/approvals/session").then((r) => r.json()).then((s) => { if (s.signed_in) location.replace(target); }).catch(() => {});
}
`);

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f7f9; }
body { margin: 0 auto; max-width: 640px; padding: 24px; }
h1 { font-size: 1.4rem; margin: 0 0 8px; }
.muted { color: #5d6270; font-size: .9rem; }
form { display: flex; gap: 8px; align-items: center; margin: 16px 0; flex-wrap: wrap; }
input, button, a.button { font: inherit; min-height: 44px; }
input { padding: 6px 8px; border: 1px solid #aab; border-radius: 6px; background: #fff; flex: 1 1 260px; min-width: 0; }
button, a.button { padding: 6px 14px; border-radius: 6px; border: 1px solid #889; background: #fff; cursor: pointer; color: inherit; text-decoration: none; display: inline-flex; align-items: center; }
#status { min-height: 1.4em; margin: 8px 0; }
.error { color: #b3261e; }
`;

/** The sign-in page; `returnTo` is already a checked path on the approvals page. */
export function signInPage(env: Env, returnTo: string, reason: string | null, oidcProvider?: string): Response {
	const nonce = newNonce();
	const message = reason && Object.hasOwn(MESSAGES, reason) ? MESSAGES[reason] : "";
	const oidc = oidcProvider
		? `<p><a id="oidc" class="button" data-base="${OIDC_START_PATH}" href="${OIDC_START_PATH}?return_to=${encodeURIComponent(returnTo)}">Sign in with ${escapeHtml(oidcProvider)}</a></p><p class="muted">Or with a token:</p>`
		: "";
	const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="return-to" content="${escapeHtml(returnTo)}">
<title>Sign in · Approvals · stage0-edge-guard</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>Sign in to approve</h1>
<p class="muted">The approvals page shows what the guard holds for a person, and lets admins approve or reject it.</p>
${oidc}
<form id="signin" autocomplete="off">
  <label for="token">Token</label>
  <input id="token" type="password" required minlength="16" placeholder="sg_…">
  <button type="submit">Sign in</button>
</form>
<p class="muted">${howToSignIn(env, oidcProvider)}</p>
<div id="status" role="status">${escapeHtml(message)}</div>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
	return pageResponse(html, nonce);
}
