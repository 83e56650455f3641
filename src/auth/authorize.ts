/**
 * /authorize and the OIDC callback: who the person is, then their consent.
 *
 *   GET  /authorize          the library validates the request (client, exact
 *                            redirect URI, PKCE S256, resource); then the person
 *                            signs in at the OIDC provider, or with a token here
 *   POST /authorize          step=sign-in: the token; step=consent: Allow / Deny
 *   GET  /oauth/callback     back from the OIDC provider, to the consent page
 *
 * A signed-in identity waits server-side (OAUTH_KV) for the consent form,
 * keyed by the library's one-time consent handle, which only the browser that
 * opened the page can use. The token sign-in form is bound to its browser the
 * same way (a SameSite=Strict cookie), so another site cannot sign a person in
 * as someone else.
 */
import {
	AuthorizationError,
	type AuthRequest,
	CimdFetchError,
	type ConsentDescription,
	type OAuthHelpers,
} from "@cloudflare/workers-oauth-provider";
import type { Env } from "../config";
import { consentPage, errorPage, type Identity, pageHeaders, tokenSignInPage } from "../web/consent-page";
import { readConfig } from "../config";
import { newNonce } from "../web/html";
import { finishApproverOidcSignIn, isApproverSignIn } from "../web/sign-in";
import { rememberGrantedPrincipal, signInWithToken } from "./authenticate";
import { authorizationServer, type GrantProps, issuerFor } from "./oauth";
import { beginOidcSignIn, clearFlowCookie, completeOidcSignIn, cookieValue, type OidcConfig, readOidcConfig } from "./oidc";
import { sha256Hex } from "./tokens";

const PENDING_COOKIE = "guard_authorize";
const PENDING_PREFIX = "authorize-pending:";
const IDENTITY_PREFIX = "consent-identity:";
const TTL_SECONDS = 600;

interface SignedIn extends Identity {
	role: GrantProps["role"];
	via: GrantProps["via"];
}

/** A text field of the form ("" when absent, or a file). */
function field(form: FormData, name: string): string {
	const value = form.get(name);
	return typeof value === "string" ? value : "";
}

function random(): string {
	return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function html(status: number, render: (nonce: string) => string, base?: Headers): Response {
	const n = newNonce();
	return new Response(render(n), { status, headers: pageHeaders(n, base) });
}

function problem(status: number, title: string, message: string, base?: Headers): Response {
	return html(status, (n) => errorPage(n, title, message), base);
}

/** What a failed /authorize step becomes: a redirect to the client only once the library validated it; else a page. */
function authorizationFailure(error: unknown): Response {
	if (error instanceof AuthorizationError) {
		if (error.redirectTo) return new Response(null, { status: 302, headers: { location: error.redirectTo, "cache-control": "no-store" } });
		return problem(400, "This sign-in cannot continue", `${error.description} (${error.code})`);
	}
	if (error instanceof CimdFetchError) {
		return problem(400, "This application could not be verified", "Its client metadata document could not be fetched or is not valid.");
	}
	throw error;
}

function oidcConfig(env: Env, issuer: string): OidcConfig | Response | undefined {
	const read = readOidcConfig(readConfig(env).oidc, issuer, env.OAUTH_KV);
	if (!read) return undefined;
	if (!read.ok) return problem(503, "Sign-in is misconfigured", read.problem);
	return read.config;
}

export async function handleAuthorize(request: Request, env: Env): Promise<Response> {
	const url = new URL(request.url);
	const issuer = issuerFor(env, url);
	if (!issuer || !env.OAUTH_KV) {
		return problem(
			404,
			"OAuth sign-in is off",
			"This server signs no one in with OAuth: it needs MCP_AUTH_TOKENS or OIDC_ISSUER, the OAUTH_KV namespace, and PUBLIC_URL (except on loopback).",
		);
	}
	const oauth = authorizationServer(issuer, env).getOAuthApi(env);
	try {
		if (request.method === "GET") return await start(request, env, oauth, issuer);
		if (request.method === "POST") {
			// Only this server's own pages post here.
			const origin = request.headers.get("origin");
			if (origin !== null && origin !== url.origin)
				return problem(403, "Refused", "This form can only be sent from this server's own page.");
			const form = await request.formData();
			const step = form.get("step");
			if (step === "sign-in") return await tokenSignIn(request, env, oauth, form);
			if (step === "consent") return await consent(request, env, oauth, form);
			return problem(400, "Refused", "Unknown step.");
		}
		return problem(405, "Method not allowed", "/authorize takes GET and POST.", new Headers({ allow: "GET, POST" }));
	} catch (error) {
		return authorizationFailure(error);
	}
}

async function start(request: Request, env: Env, oauth: OAuthHelpers, issuer: string): Promise<Response> {
	const authRequest = await oauth.parseAuthRequest(request);
	const details = await oauth.describeConsent(authRequest); // the client resolves before anything is stored
	const oidc = oidcConfig(env, issuer);
	if (oidc instanceof Response) return oidc;
	if (oidc) return beginOidcSignIn(oidc, { returnTo: "/authorize", context: { authorize: authRequest }, request });
	if (readConfig(env).access.tokens.kind !== "table")
		return problem(503, "Sign-in is misconfigured", "No OIDC provider and no MCP_AUTH_TOKENS.");

	const pending = random();
	const browser = random();
	await env.OAUTH_KV.put(PENDING_PREFIX + (await sha256Hex(pending)), JSON.stringify({ authRequest, browser: await sha256Hex(browser) }), {
		expirationTtl: TTL_SECONDS,
	});
	const headers = new Headers({ "set-cookie": pendingCookie(request, browser, TTL_SECONDS) });
	return html(200, (n) => tokenSignInPage(n, details, pending), headers);
}

function pendingCookie(request: Request, value: string, maxAge: number): string {
	const secure = new URL(request.url).protocol === "https:" ? "; Secure" : "";
	return `${PENDING_COOKIE}=${value}; Path=/authorize; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`;
}

async function tokenSignIn(request: Request, env: Env, oauth: OAuthHelpers, form: FormData): Promise<Response> {
	const pending = field(form, "pending");
	const key = PENDING_PREFIX + (await sha256Hex(pending));
	const raw = pending ? await env.OAUTH_KV.get(key) : null;
	const expired = () =>
		problem(400, "This sign-in has expired", "Start again from your application (the page works once, for ten minutes).");
	if (!raw) return expired();
	const record = JSON.parse(raw) as { authRequest: AuthRequest; browser: string };
	const browser = cookieValue(request, PENDING_COOKIE);
	if (!browser || (await sha256Hex(browser)) !== record.browser) {
		return problem(403, "Refused", "This sign-in was started in another browser: start again from your application.");
	}
	const caller = await signInWithToken(field(form, "token"), readConfig(env).access.tokens);
	if (!caller) {
		const details = await oauth.describeConsent(record.authRequest);
		return html(401, (n) => tokenSignInPage(n, details, pending, "That token is not valid here. Check it and try again."));
	}
	await env.OAUTH_KV.delete(key);
	const headers = new Headers({ "set-cookie": pendingCookie(request, "", 0) });
	return showConsent(env, oauth, record.authRequest, { ...caller, via: { kind: "token", tokenHash: caller.credential } }, headers);
}

async function showConsent(env: Env, oauth: OAuthHelpers, authRequest: AuthRequest, who: SignedIn, base: Headers): Promise<Response> {
	const details: ConsentDescription = await oauth.describeConsent(authRequest);
	const transaction = await oauth.beginConsent(authRequest);
	await env.OAUTH_KV.put(IDENTITY_PREFIX + (await sha256Hex(transaction.handle)), JSON.stringify(who), { expirationTtl: TTL_SECONDS });
	const headers = new Headers(transaction.headers);
	for (const cookie of base.getSetCookie()) headers.append("set-cookie", cookie);
	return html(200, (n) => consentPage(n, details, transaction.handle, who), headers);
}

async function consent(request: Request, env: Env, oauth: OAuthHelpers, form: FormData): Promise<Response> {
	const handle = field(form, "handle");
	const key = IDENTITY_PREFIX + (await sha256Hex(handle));
	if (form.get("decision") !== "approve") {
		const denied = await oauth.denyConsent(request, handle);
		await env.OAUTH_KV.delete(key);
		return new Response(null, { status: 302, headers: denied.headers });
	}
	const raw = handle ? await env.OAUTH_KV.get(key) : null;
	const approved = await oauth.approveConsent(request, handle); // one use, this browser only; throws otherwise
	if (!raw) return problem(400, "This sign-in has expired", "Start again from your application.");
	await env.OAUTH_KV.delete(key);
	const who = JSON.parse(raw) as SignedIn;
	const props: GrantProps = { principal: who.principal, role: who.role, grant: random(), via: who.via };
	const { redirectTo } = await oauth.completeAuthorization({
		request: approved.request,
		userId: encodeURIComponent(who.principal),
		metadata: { principal: who.principal, role: who.role, via: who.via.kind },
		scope: approved.request.scope,
		props,
	});
	await rememberGrantedPrincipal(env.OAUTH_KV, who.principal);
	const headers = new Headers(approved.headers);
	headers.set("location", redirectTo);
	return new Response(null, { status: 302, headers });
}

/** GET /oauth/callback: back from the OIDC provider. */
export async function handleOidcCallback(request: Request, env: Env): Promise<Response> {
	const url = new URL(request.url);
	const issuer = issuerFor(env, url) ?? url.origin;
	const oidc = oidcConfig(env, issuer);
	if (oidc instanceof Response) return oidc;
	if (!oidc) return problem(404, "No sign-in provider", "This server has no OIDC provider configured (OIDC_ISSUER).");
	const clear = new Headers({ "set-cookie": clearFlowCookie(oidc) });
	const result = await completeOidcSignIn(request, oidc);
	if (!result.ok) return problem(result.status, "Sign-in refused", `${result.message} (${result.error})`, clear);
	// A sign-in the approvers' page started: a browser session there, not an OAuth grant.
	if (isApproverSignIn(result)) {
		const response = await finishApproverOidcSignIn(request, env, result, oidc.issuer);
		response.headers.append("set-cookie", clearFlowCookie(oidc));
		return response;
	}
	const context = result.context as { authorize?: AuthRequest } | undefined;
	if (!context?.authorize) return problem(400, "Sign-in refused", "This sign-in was not started by /authorize.", clear);
	const oauth = authorizationServer(issuer, env).getOAuthApi(env);
	try {
		return await showConsent(
			env,
			oauth,
			context.authorize,
			{ principal: result.principal, role: result.role, via: { kind: "oidc", issuer: oidc.issuer } },
			clear,
		);
	} catch (error) {
		return authorizationFailure(error);
	}
}
