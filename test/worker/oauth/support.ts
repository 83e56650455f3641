/**
 * OAuth from a client's side, inside workerd: the official MCP SDK client's
 * OAuthClientProvider (dynamic registration or a Client ID Metadata Document,
 * PKCE, tokens kept in memory), and a person's browser reduced to what the
 * consent pages need: a cookie jar, forms, no redirects followed.
 */
import { exports } from "cloudflare:workers";
import { env } from "cloudflare:workers";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { expect } from "vitest";
import { InMemoryOAuthClient } from "../../support/oauth-client";

export const ORIGIN = "http://localhost";
export const REDIRECT_URI = "http://127.0.0.1:33419/callback";

export const viaWorker = ((input: RequestInfo | URL, init?: RequestInit) =>
	exports.default.fetch(new Request(input, init))) as typeof fetch;

/** A person's browser: cookies by name (Path ignored: one site), no redirects followed. */
export class Browser {
	readonly cookies = new Map<string, string>();

	async go(url: string | URL, init: RequestInit = {}): Promise<Response> {
		const headers = new Headers(init.headers);
		if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
		const response = await exports.default.fetch(new Request(url, { ...init, headers, redirect: "manual" }));
		for (const line of response.headers.getSetCookie()) {
			const [pair, ...attributes] = line.split(";");
			const eq = pair.indexOf("=");
			const name = pair.slice(0, eq).trim();
			const value = pair.slice(eq + 1).trim();
			if (!value || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
			else this.cookies.set(name, value);
		}
		return response;
	}

	/** Submits a form of the page as a person would: the fields given, from this server's own page. */
	post(fields: Record<string, string>): Promise<Response> {
		return this.go(`${ORIGIN}/authorize`, {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
			body: new URLSearchParams(fields).toString(),
		});
	}
}

/** A hidden field's value in a page. */
export function hidden(html: string, name: string): string {
	const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
	if (!match) throw new Error(`no field ${name} in the page: ${html.slice(0, 500)}`);
	return match[1];
}

/** The text of an element by id. */
export function textOf(html: string, id: string): string | undefined {
	return new RegExp(`id="${id}"[^>]*>([^<]*)`).exec(html)?.[1]?.trim();
}

/** The MCP SDK's client side of OAuth, in memory: the authorization URL is kept for the test's browser to visit. */
export class TestOAuthClient extends InMemoryOAuthClient {
	authorizationUrl?: URL;

	constructor(clientMetadataUrl?: string, redirectUri: string = REDIRECT_URI) {
		super("Worker Test Client", redirectUri, clientMetadataUrl);
	}

	redirectToAuthorization(url: URL) {
		this.authorizationUrl = url;
	}
}

export function transportFor(provider: OAuthClientProvider, path = "/mcp") {
	return new StreamableHTTPClientTransport(new URL(`${ORIGIN}${path}`), { authProvider: provider, fetch: viaWorker });
}

/** What the person saw and did: the consent page's facts, and the client's redirect. */
export interface Consent {
	page: string;
	headers: Headers;
	redirect: URL;
}

/** Signs in with a token on the sign-in page, then answers the consent page. */
export async function signInAndConsent(authorizationUrl: URL, token: string, decision: "approve" | "deny" = "approve"): Promise<Consent> {
	const browser = new Browser();
	const signIn = await browser.go(authorizationUrl);
	if (signIn.status !== 200) throw new Error(`the sign-in page answered ${signIn.status}: ${await signIn.text()}`);
	const pending = hidden(await signIn.text(), "pending");
	const consentPage = await browser.post({ step: "sign-in", pending, token });
	expect(consentPage.status).toBe(200);
	const page = await consentPage.text();
	const done = await browser.post({ step: "consent", handle: hidden(page, "handle"), decision });
	expect(done.status).toBe(302);
	return { page, headers: consentPage.headers, redirect: new URL(done.headers.get("location")!) };
}

/** The MCP SDK client signing in from scratch as the token's owner: 401, discovery, registration, consent, code exchange. */
export async function oauthClient(
	token: string,
	provider = new TestOAuthClient(),
): Promise<{ client: Client; provider: TestOAuthClient; consent: Consent }> {
	const first = new Client({ name: "oauth-test", version: "1.0.0" });
	const transport = transportFor(provider);
	await expect(first.connect(transport)).rejects.toThrow(/Unauthorized/);
	expect(provider.authorizationUrl).toBeDefined();
	const consent = await signInAndConsent(provider.authorizationUrl!, token);
	await transport.finishAuth(consent.redirect.searchParams.get("code")!);
	const client = new Client({ name: "oauth-test", version: "1.0.0" });
	await client.connect(transportFor(provider));
	return { client, provider, consent };
}

/** A raw call with a bearer token. */
export function withBearer(path: string, token: string, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	headers.set("authorization", `Bearer ${token}`);
	if (path === "/mcp") {
		headers.set("content-type", "application/json");
		headers.set("accept", "application/json, text/event-stream");
	}
	return exports.default.fetch(
		new Request(`${ORIGIN}${path}`, {
			method: init.method ?? (path === "/mcp" ? "POST" : "GET"),
			headers,
			body:
				init.body ??
				(path === "/mcp"
					? JSON.stringify({
							jsonrpc: "2.0",
							id: 1,
							method: "initialize",
							params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
						})
					: undefined),
		}),
	);
}

/** PKCE S256 pair. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
	const verifier = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
	const challenge = btoa(String.fromCharCode(...digest))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");
	return { verifier, challenge };
}

/** A dynamically registered public client. */
export async function register(redirectUri = REDIRECT_URI): Promise<string> {
	const res = await viaWorker(`${ORIGIN}/oauth/register`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({
			client_name: "Raw Test Client",
			redirect_uris: [redirectUri],
			grant_types: ["authorization_code", "refresh_token"],
			response_types: ["code"],
			token_endpoint_auth_method: "none",
		}),
	});
	expect(res.status).toBe(201);
	return ((await res.json()) as { client_id: string }).client_id;
}

/** What an authorization request by hand says; `params` adds parameters or replaces the ones these set. */
export interface AuthorizeRequest {
	clientId: string;
	/** PKCE S256's challenge; without one the request has no PKCE (unless `params` brings it). */
	challenge?: string;
	redirectUri?: string;
	state: string;
	resource?: string;
	params?: Record<string, string>;
}

/** The URL of an authorization request by hand (no SDK): for refusals that need exact control of each parameter. */
export function authorizeUrl(request: AuthorizeRequest): URL {
	const url = new URL(`${ORIGIN}/authorize`);
	url.searchParams.set("response_type", "code");
	url.searchParams.set("client_id", request.clientId);
	url.searchParams.set("redirect_uri", request.redirectUri ?? REDIRECT_URI);
	if (request.challenge) {
		url.searchParams.set("code_challenge", request.challenge);
		url.searchParams.set("code_challenge_method", "S256");
	}
	url.searchParams.set("state", request.state);
	if (request.resource) url.searchParams.set("resource", request.resource);
	for (const [name, value] of Object.entries(request.params ?? {})) url.searchParams.set(name, value);
	return url;
}

/** An authorization code by hand (no SDK), signed in and approved as the token's owner. */
export async function codeFor(
	token: string,
	options: { clientId: string; challenge: string; resource?: string; redirectUri?: string },
): Promise<{ code: string; redirect: URL }> {
	const { redirect } = await signInAndConsent(authorizeUrl({ ...options, state: "state-123" }), token);
	return { code: redirect.searchParams.get("code")!, redirect };
}

export async function exchange(fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
	const res = await viaWorker(`${ORIGIN}/oauth/token`, {
		method: "POST",
		headers: { "content-type": "application/x-www-form-urlencoded" },
		body: new URLSearchParams(fields).toString(),
	});
	return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export { env };
