/**
 * The approvers' browser sessions: after a sign-in on the approvals page (a
 * token, the approver link of `npm run dev`, or an OpenID Connect provider),
 * the browser holds only an opaque random session id, in an HttpOnly,
 * SameSite=Strict cookie (Secure, and named `__Host-…`, over HTTPS). What the
 * session means (principal, role, how signed in, expiry, CSRF token) stays on
 * the server (src/state/browser-session-store.ts); sign-out deletes it there.
 *
 * A session is honoured on the approvals page and API only, never on /mcp or
 * /sse. A token or approver-link session is checked against the configuration
 * on every request, so removing a token (or restarting `npm run dev`) ends it.
 * Every state-changing request made with the cookie needs the session's CSRF
 * token (header `x-csrf-token`, or form field `csrf_token`) and an Origin that
 * is this server's own.
 */
import { randomToken } from "../base64url";
import type { Env } from "../config";
import { readConfig } from "../config";
import { jsonError } from "../http";
import type { SignInMethod, StoredSession } from "../state/browser-session-store";
import { type AuthResult, authenticate, callerOfCredential } from "./authenticate";
import { OPERATOR } from "./operator";
import { type Caller, sha256Hex, timingSafeEqual } from "./tokens";
import { ROLES, type Role } from "../guard/enums";
import { err, ok } from "../guard/result";
import { browserSessionStore } from "../state/bindings";

/** Over HTTPS: host-only, Secure, Path=/ (the prefix makes browsers insist on all three). */
const SECURE_COOKIE = "__Host-edge-guard-session";
/** Over plain http (loopback, `npm run dev`). */
const PLAIN_COOKIE = "edge-guard-session";
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** Where a signed-in approver lands when nothing (valid) says otherwise. */
export const APPROVALS_PATH = "/approvals";
export const SIGN_IN_PATH = "/approvals/sign-in";

/** A live session, as the routes see it. */
export interface BrowserSession {
	caller: Caller;
	method: SignInMethod;
	csrf: string;
	expiresAt: number;
	/** SHA-256 of the session id: its key in the store. */
	key: string;
}

export function sessionTtlSeconds(env: Env): number {
	return readConfig(env).approvals.approverSessionTtlSeconds;
}

function isHttps(request: Request): boolean {
	return new URL(request.url).protocol === "https:";
}

function cookieName(request: Request): string {
	return isHttps(request) ? SECURE_COOKIE : PLAIN_COOKIE;
}

/** The session id the request's cookie carries (only the name that fits its scheme: over HTTPS, only `__Host-`). */
export function sessionIdOf(request: Request): string | undefined {
	const header = request.headers.get("cookie");
	if (!header) return undefined;
	const name = cookieName(request);
	for (const part of header.split(";")) {
		const eq = part.indexOf("=");
		if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
		const value = part.slice(eq + 1).trim();
		return SESSION_ID.test(value) ? value : undefined;
	}
	return undefined;
}

/** True when the request carries a session cookie of this server's name (valid or not). */
export function hasSessionCookie(request: Request): boolean {
	const name = cookieName(request);
	return (request.headers.get("cookie") ?? "").split(";").some((part) => part.split("=")[0].trim() === name);
}

function setCookie(request: Request, value: string, maxAgeSeconds: number): string {
	const parts = [`${cookieName(request)}=${value}`, "Path=/", "HttpOnly", "SameSite=Strict", `Max-Age=${maxAgeSeconds}`];
	if (isHttps(request)) parts.push("Secure");
	return parts.join("; ");
}

/** The Set-Cookie that removes the session cookie from the browser. */
export function clearSessionCookie(request: Request): string {
	return setCookie(request, "", 0);
}

function store(env: Env) {
	return browserSessionStore(env);
}

/**
 * Starts a session for someone who just signed in; returns its Set-Cookie.
 * A session the browser already had is ended first (no session fixation).
 */
export async function startSession(
	request: Request,
	env: Env,
	who: { principal: string; role: Role; method: SignInMethod; credential: string },
): Promise<{ setCookie: string; expiresAt: number }> {
	const previous = sessionIdOf(request);
	if (previous) await store(env).revoke(await sha256Hex(previous));
	const id = randomToken();
	const ttl = sessionTtlSeconds(env);
	const now = Date.now();
	const session: StoredSession = {
		key: await sha256Hex(id),
		principal: who.principal,
		role: who.role,
		method: who.method,
		credential: who.credential,
		csrf: randomToken(),
		created_at: now,
		expires_at: now + ttl * 1000,
	};
	await store(env).create(session);
	return { setCookie: setCookie(request, id, ttl), expiresAt: session.expires_at };
}

/** Ends the request's session on the server (sign-out). */
export async function endSession(request: Request, env: Env): Promise<void> {
	const id = sessionIdOf(request);
	if (id) await store(env).revoke(await sha256Hex(id));
}

/**
 * The request's live session, checked against today's configuration: a token
 * session needs its token still in MCP_AUTH_TOKENS (with the role it has there
 * now), an approver-link session needs this run's approver link and a request
 * that passes the loopback checks. Undefined when there is none.
 */
export async function currentSession(request: Request, env: Env): Promise<BrowserSession | undefined> {
	const id = sessionIdOf(request);
	if (!id) return undefined;
	const key = await sha256Hex(id);
	const stored = await store(env).get(key);
	if (!stored) return undefined;
	const caller = await stillValid(request, env, stored);
	if (!caller) {
		await store(env).revoke(key);
		return undefined;
	}
	return { caller, method: stored.method, csrf: stored.csrf, expiresAt: stored.expires_at, key };
}

async function stillValid(request: Request, env: Env, stored: StoredSession): Promise<Caller | undefined> {
	const { access, oidc } = readConfig(env);
	const tokensConfigured = access.tokens.kind !== "none";
	if (stored.method === "token") {
		if (!tokensConfigured) return undefined;
		const caller = callerOfCredential(access.tokens, stored.credential);
		return caller && caller.principal === stored.principal ? caller : undefined;
	}
	if (stored.method === "operator") {
		if (tokensConfigured) return undefined;
		if ((access.operatorTokenSha256 ?? "") !== stored.credential) return undefined;
		const local = await authenticate(withoutCredentials(request), access);
		return local.ok ? OPERATOR : undefined;
	}
	// A provider's session lasts while that provider is the configured one.
	if (stored.credential !== `oidc:${oidc.issuer ?? ""}`) return undefined;
	if (!(ROLES as readonly string[]).includes(stored.role)) return undefined;
	return { principal: stored.principal, role: stored.role as Role, credential: stored.credential };
}

/** The request as the loopback checks see it without any credential. */
function withoutCredentials(request: Request): Request {
	const headers = new Headers();
	const peer = request.headers.get("cf-connecting-ip");
	if (peer !== null) headers.set("cf-connecting-ip", peer);
	return new Request(new URL("/api/approvals", request.url), { headers });
}

/**
 * Who a pasted secret signs in as: an MCP_AUTH_TOKENS token, or (in
 * loopback-only mode) this run's approver link. The same checks and messages
 * as a bearer token on the approvals API.
 */
export async function signInWithSecret(
	request: Request,
	env: Env,
	secret: string,
): Promise<{ ok: true; caller: Caller; method: SignInMethod; credential: string } | { ok: false; response: Response }> {
	const { access } = readConfig(env);
	const headers = new Headers({ authorization: `Bearer ${secret}` });
	const peer = request.headers.get("cf-connecting-ip");
	if (peer !== null) headers.set("cf-connecting-ip", peer);
	const result: AuthResult = await authenticate(new Request(new URL("/api/approvals", request.url), { headers }), access);
	if (!result.ok) return { ok: false, response: result.error };
	const caller = result.value;
	// Only two kinds of secret sign in here: a token of MCP_AUTH_TOKENS, or this run's approver link.
	if (callerOfCredential(access.tokens, caller.credential)) return { ok: true, caller, method: "token", credential: caller.credential };
	const operatorHash = access.operatorTokenSha256;
	if (access.tokens.kind === "none" && operatorHash && caller.principal === OPERATOR.principal && caller.credential === operatorHash) {
		return { ok: true, caller: OPERATOR, method: "operator", credential: operatorHash };
	}
	return {
		ok: false,
		response: jsonError(
			401,
			"invalid_token",
			"The approvals page is signed in to with a token of MCP_AUTH_TOKENS, or in the quick start with the approver link of `npm run dev`; this is neither.",
		),
	};
}

/** True when the request's Origin is this server's own (its URL's, or PUBLIC_URL's). */
export function isOwnOrigin(request: Request, env: Env): boolean {
	const origin = request.headers.get("origin");
	if (origin === null) return false;
	return origin === new URL(request.url).origin || origin === readConfig(env).edge.publicOrigin;
}

/**
 * Refuses a state-changing request made with the session cookie unless it
 * comes from this server's own page and carries the session's CSRF token (in
 * the header X-CSRF-Token, or `formToken`: a form's csrf_token field).
 * Undefined when it may go on.
 */
export async function csrfRefusal(
	request: Request,
	session: BrowserSession,
	env: Env,
	formToken?: string | null,
): Promise<Response | undefined> {
	if (request.method === "GET" || request.method === "HEAD") return undefined;
	if (!isOwnOrigin(request, env)) {
		return jsonError(
			403,
			"csrf_refused",
			"This request was made with the approvals page's sign-in but not from that page (its Origin is missing or another site's). Nothing was changed.",
		);
	}
	const presented = request.headers.get("x-csrf-token") ?? formToken;
	if (!presented || !(await sameSecret(presented, session.csrf))) {
		return jsonError(
			403,
			"csrf_refused",
			"This request lacks the approvals page's CSRF token (header X-CSRF-Token), or it is not this session's. Reload the page and try again; nothing was changed.",
		);
	}
	return undefined;
}

/**
 * Who calls the approvals API: the bearer token when the request has an
 * Authorization header (headless tools), else the browser session of its
 * cookie (CSRF-checked for changes), else what `authenticate` says (in the
 * quick start, `local`). A cookie that names no live session is a 401, never
 * a silent fall back to another identity.
 */
export async function authenticateApprovals(request: Request, env: Env): Promise<AuthResult> {
	if (request.headers.has("authorization") || !hasSessionCookie(request)) return authenticate(request, readConfig(env).access, env);
	const session = await currentSession(request, env);
	if (!session) {
		return err(
			jsonError(
				401,
				"session_ended",
				`Your sign-in on the approvals page has ended (signed out, expired, or its token withdrawn). Sign in again at ${SIGN_IN_PATH}.`,
			),
		);
	}
	const refused = await csrfRefusal(request, session, env);
	return refused ? err(refused) : ok(session.caller);
}

/** Compares two secrets in constant time (their SHA-256, so lengths leak nothing either). */
async function sameSecret(a: string, b: string): Promise<boolean> {
	const digest = async (s: string) => new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
	return timingSafeEqual(await digest(a), await digest(b));
}

/**
 * Where to send someone after sign-in: a path on this server's approvals page
 * (with its query and fragment), or the page itself. Anything else (another
 * host, `//host`, a backslash trick, a scheme, another path) is replaced, so a
 * sign-in link can never send a person elsewhere.
 */
export function safeReturnTo(raw: string | null | undefined): string {
	if (!raw || raw.length > 1024 || !raw.startsWith("/") || raw.startsWith("//") || hasControlOrBackslash(raw)) {
		return APPROVALS_PATH;
	}
	const base = "https://edge-guard.invalid";
	let url: URL;
	try {
		url = new URL(raw, base);
	} catch {
		return APPROVALS_PATH;
	}
	if (url.origin !== base || url.pathname !== APPROVALS_PATH) return APPROVALS_PATH;
	return url.pathname + url.search + url.hash;
}

function hasControlOrBackslash(text: string): boolean {
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		if (code < 0x20 || code === 0x7f || code === 0x5c) return true;
	}
	return false;
}

/** The sign-in page's address for someone who should come back to `returnTo`. */
export function signInLocation(returnTo: string): string {
	return `${SIGN_IN_PATH}?return_to=${encodeURIComponent(safeReturnTo(returnTo))}`;
}
