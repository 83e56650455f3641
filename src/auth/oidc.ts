/**
 * The guard as an OpenID Connect relying party: who a person is, as the
 * organisation's identity provider says. Used by every browser sign-in (the
 * OAuth consent page at /authorize, the approvers' page), through two calls:
 *
 *   beginOidcSignIn(config, { returnTo })   → a redirect to the provider
 *   completeOidcSignIn(request, config)     → { principal, role, returnTo } or a refusal
 *
 * The flow (OIDC Core 3.1, authorization code with PKCE S256 and a nonce):
 * discovery from OIDC_ISSUER (the document's `issuer` must be that exact
 * value), a `state` that names a one-time record kept server-side (nonce,
 * PKCE verifier, where to return), that record bound to the browser that
 * started the flow by an HttpOnly cookie (so a `state` from someone else's
 * flow, or a replayed one, is refused), the code exchanged with the client
 * secret, and the ID token's signature checked against the provider's JWKS,
 * with its iss, aud, azp, exp, iat and nonce.
 */
import { createRemoteJWKSet, customFetch, errors as joseErrors, type JWTPayload, jwtVerify } from "jose";
import { z } from "zod";
import { base64url, randomToken } from "../base64url";
import type { OidcSettings } from "../config";
import { ROLES, type Role } from "../guard/enums";
import { sha256Hex } from "./tokens";

/** Where the provider sends the person back; register `<PUBLIC_URL>/oauth/callback` at the provider. */
export const OIDC_CALLBACK_PATH = "/oauth/callback";

/** How long a started sign-in may take, in seconds (also the cookie's lifetime). */
export const OIDC_FLOW_TTL_SECONDS = 600;

const FLOW_COOKIE = "guard_oidc_flow";
const STATE_PREFIX = "oidc-flow:";

/** Server-side storage for started flows: the OAuth KV namespace satisfies it. */
export interface FlowStore {
	get(key: string): Promise<string | null>;
	put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
	delete(key: string): Promise<void>;
}

export interface OidcConfig {
	issuer: string;
	clientId: string;
	clientSecret: string;
	/** The claim whose value(s) name the person's role (e.g. `roles`, `groups`); none: everyone gets `defaultRole`. */
	roleClaim?: string;
	/** Claim value → role. A person whose values map to several roles gets the highest. */
	roleMap: Record<string, Role>;
	defaultRole: Role;
	/** The claim that names the principal (default `email`, else `sub`). */
	principalClaim: string;
	/** This server's callback URL (origin + OIDC_CALLBACK_PATH), as registered at the provider. */
	redirectUri: string;
	store: FlowStore;
	/** The fetch used to reach the provider (tests pass one; the runtime's otherwise). */
	fetch?: typeof fetch;
}

export type OidcConfigResult = { ok: true; config: OidcConfig } | { ok: false; problem: string } | undefined;

const RoleMapSchema = z.record(z.string().min(1).max(256), z.enum(ROLES));

/**
 * The provider configuration, or undefined when OIDC_ISSUER is not set (then
 * people sign in with a token), or the problem (never a secret's value) when it
 * is set but unusable: a half-configured provider must refuse, not fall back.
 */
export function readOidcConfig(settings: OidcSettings, origin: string, store: FlowStore | undefined): OidcConfigResult {
	const { issuer, clientId, clientSecret } = settings;
	if (!issuer) return undefined;
	const issuerProblem = urlProblem(issuer, "OIDC_ISSUER");
	if (issuerProblem) return { ok: false, problem: issuerProblem };
	if (!clientId) return { ok: false, problem: "OIDC_ISSUER is set but OIDC_CLIENT_ID is not." };
	if (!clientSecret) return { ok: false, problem: "OIDC_ISSUER is set but the secret OIDC_CLIENT_SECRET is not." };
	let roleMap: Record<string, Role> = {};
	if (settings.roleMap) {
		let json: unknown;
		try {
			json = JSON.parse(settings.roleMap);
		} catch {
			return { ok: false, problem: 'OIDC_ROLE_MAP is not JSON: expected { "<claim value>": "admin|developer|viewer" }.' };
		}
		const parsed = RoleMapSchema.safeParse(json);
		if (!parsed.success)
			return { ok: false, problem: 'OIDC_ROLE_MAP must map claim values to roles: { "<claim value>": "admin|developer|viewer" }.' };
		roleMap = parsed.data;
	}
	if (!store) return { ok: false, problem: "The OAUTH_KV namespace is not bound, so a sign-in cannot be kept between its two steps." };
	return {
		ok: true,
		config: {
			issuer,
			clientId,
			clientSecret,
			roleClaim: settings.roleClaim,
			roleMap,
			defaultRole: "viewer",
			principalClaim: settings.principalClaim,
			redirectUri: `${origin}${OIDC_CALLBACK_PATH}`,
			store,
		},
	};
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** https only, except on loopback (a provider on this machine, as in tests). */
function urlProblem(raw: string, name: string): string | undefined {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return `${name} is not a URL.`;
	}
	if (url.protocol === "https:") return undefined;
	if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return undefined;
	return `${name} must be an https:// URL (http:// only on loopback).`;
}

// ---- Discovery (OpenID Connect Discovery 1.0) ------------------------------------------

const DiscoverySchema = z.object({
	issuer: z.string(),
	authorization_endpoint: z.string(),
	token_endpoint: z.string(),
	jwks_uri: z.string(),
	id_token_signing_alg_values_supported: z.array(z.string()).optional(),
	code_challenge_methods_supported: z.array(z.string()).optional(),
	token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
	authorization_response_iss_parameter_supported: z.boolean().optional(),
});
type Discovery = z.infer<typeof DiscoverySchema>;

const DISCOVERY_CACHE_MS = 3600_000;
const discoveries = new Map<string, { at: number; doc: Discovery }>();
const jwksSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

class OidcError extends Error {
	constructor(
		readonly code: string,
		message: string,
		readonly status = 400,
	) {
		super(message);
	}
}

async function discover(config: OidcConfig): Promise<Discovery> {
	const cached = discoveries.get(config.issuer);
	if (cached && Date.now() - cached.at < DISCOVERY_CACHE_MS) return cached.doc;
	const url = `${config.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
	let response: Response;
	try {
		response = await (config.fetch ?? fetch)(url, { headers: { accept: "application/json" }, redirect: "manual" });
	} catch {
		throw new OidcError("temporarily_unavailable", `The identity provider's discovery document (${url}) could not be fetched.`, 502);
	}
	const parsed = DiscoverySchema.safeParse(response.ok ? await response.json().catch(() => undefined) : undefined);
	if (!parsed.success) {
		throw new OidcError(
			"temporarily_unavailable",
			`The identity provider's discovery document (${url}) is not usable (HTTP ${response.status}).`,
			502,
		);
	}
	const doc = parsed.data;
	// Discovery 4.3: the document must name exactly the issuer it was fetched for.
	if (doc.issuer !== config.issuer) {
		throw new OidcError(
			"server_error",
			`The identity provider's discovery document names issuer ${doc.issuer.slice(0, 200)}, not OIDC_ISSUER.`,
			502,
		);
	}
	for (const [name, value] of [
		["authorization_endpoint", doc.authorization_endpoint],
		["token_endpoint", doc.token_endpoint],
		["jwks_uri", doc.jwks_uri],
	] as const) {
		const problem = urlProblem(value, `The provider's ${name}`);
		if (problem) throw new OidcError("server_error", problem, 502);
	}
	if (doc.code_challenge_methods_supported && !doc.code_challenge_methods_supported.includes("S256")) {
		throw new OidcError("server_error", "The identity provider does not support PKCE with S256, which this server requires.", 502);
	}
	discoveries.set(config.issuer, { at: Date.now(), doc });
	return doc;
}

function jwksOf(config: OidcConfig, doc: Discovery) {
	let set = jwksSets.get(doc.jwks_uri);
	if (!set) {
		const fetcher = config.fetch;
		set = createRemoteJWKSet(new URL(doc.jwks_uri), fetcher ? { [customFetch]: (url, options) => fetcher(url, options) } : {});
		jwksSets.set(doc.jwks_uri, set);
	}
	return set;
}

// ---- The started flow ------------------------------------------------------------------

interface FlowRecord {
	/** SHA-256 of the browser binding kept in the flow cookie. */
	browser: string;
	nonce: string;
	verifier: string;
	returnTo: string;
	context?: unknown;
}

async function s256(verifier: string): Promise<string> {
	return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

/** A path on this server (never another origin: `//host`, `/\host` and absolute URLs are refused). */
export function isLocalPath(value: string): boolean {
	return value.startsWith("/") && !value.startsWith("//") && !value.startsWith("/\\") && !/[\r\n]/.test(value);
}

export function cookieValue(request: Request, name: string): string | undefined {
	for (const part of (request.headers.get("cookie") ?? "").split(";")) {
		const eq = part.indexOf("=");
		if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
	}
	return undefined;
}

function flowCookie(config: OidcConfig, value: string, maxAge: number): string {
	const secure = config.redirectUri.startsWith("https:") ? "; Secure" : "";
	// Lax, not Strict: the provider's redirect back is a cross-site top-level navigation.
	return `${FLOW_COOKIE}=${value}; Path=${OIDC_CALLBACK_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
}

export interface BeginOptions {
	/** Where to go after signing in: a path on this server. */
	returnTo: string;
	/** Anything the caller needs back after sign-in (JSON), kept server-side. */
	context?: unknown;
	/** The request that starts the flow: its flow cookie is reused, so two tabs can sign in at once. */
	request?: Request;
}

/**
 * Starts a sign-in: a 302 to the provider's authorization endpoint, with a
 * cookie binding the flow to this browser. Throws nothing: a provider that
 * cannot be discovered gives a JSON error response.
 */
export async function beginOidcSignIn(config: OidcConfig, options: BeginOptions): Promise<Response> {
	if (!isLocalPath(options.returnTo)) return oidcErrorResponse(new OidcError("invalid_request", "returnTo must be a path on this server."));
	let doc: Discovery;
	try {
		doc = await discover(config);
	} catch (error) {
		return oidcErrorResponse(error);
	}
	const existing = options.request ? cookieValue(options.request, FLOW_COOKIE) : undefined;
	const browser = existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : randomToken();
	const state = randomToken();
	const record: FlowRecord = {
		browser: await sha256Hex(browser),
		nonce: randomToken(),
		verifier: randomToken(48),
		returnTo: options.returnTo,
		context: options.context,
	};
	await config.store.put(STATE_PREFIX + (await sha256Hex(state)), JSON.stringify(record), { expirationTtl: OIDC_FLOW_TTL_SECONDS });
	const target = new URL(doc.authorization_endpoint);
	target.searchParams.set("response_type", "code");
	target.searchParams.set("client_id", config.clientId);
	target.searchParams.set("redirect_uri", config.redirectUri);
	target.searchParams.set("scope", "openid email profile");
	target.searchParams.set("state", state);
	target.searchParams.set("nonce", record.nonce);
	target.searchParams.set("code_challenge", await s256(record.verifier));
	target.searchParams.set("code_challenge_method", "S256");
	return new Response(null, {
		status: 302,
		headers: {
			location: target.toString(),
			"set-cookie": flowCookie(config, browser, OIDC_FLOW_TTL_SECONDS),
			"cache-control": "no-store",
		},
	});
}

export interface SignedInPerson {
	principal: string;
	role: Role;
	returnTo: string;
	context?: unknown;
}

export type OidcSignInResult = ({ ok: true } & SignedInPerson) | { ok: false; status: number; error: string; message: string };

/** The Set-Cookie header that clears the flow cookie: send it with whatever answers the callback. */
export function clearFlowCookie(config: OidcConfig): string {
	return flowCookie(config, "", 0);
}

/**
 * Finishes a sign-in at the callback: the flow named by `state` (once, and only
 * in the browser that started it), the provider's error if it sent one, the code
 * exchanged, the ID token verified. The refusal says why, for a person.
 */
export async function completeOidcSignIn(request: Request, config: OidcConfig): Promise<OidcSignInResult> {
	try {
		return { ok: true, ...(await complete(request, config)) };
	} catch (error) {
		const known = error instanceof OidcError ? error : new OidcError("server_error", "The sign-in failed.", 500);
		return { ok: false, status: known.status, error: known.code, message: known.message };
	}
}

async function complete(request: Request, config: OidcConfig): Promise<SignedInPerson> {
	const params = new URL(request.url).searchParams;
	const state = params.get("state");
	if (!state) throw new OidcError("invalid_request", "The identity provider's answer has no state: start the sign-in again.");
	const key = STATE_PREFIX + (await sha256Hex(state));
	const raw = await config.store.get(key);
	if (!raw) throw new OidcError("invalid_request", "This sign-in is unknown, already used or expired (state): start it again.");
	const record = JSON.parse(raw) as FlowRecord;
	const browser = cookieValue(request, FLOW_COOKIE);
	if (!browser || (await sha256Hex(browser)) !== record.browser) {
		// Not consumed: the person whose flow it is may still finish it.
		throw new OidcError("invalid_request", "This sign-in was started in another browser (state does not belong here): start it again.");
	}
	await config.store.delete(key);

	const doc = await discover(config);
	// RFC 9207: where the provider names itself, it must be ours (mix-up defence).
	const iss = params.get("iss");
	if (iss !== null ? iss !== config.issuer : doc.authorization_response_iss_parameter_supported === true) {
		throw new OidcError("invalid_request", "The answer does not come from the configured identity provider (iss).");
	}
	const providerError = params.get("error");
	if (providerError) {
		const described = params.get("error_description")?.slice(0, 300);
		throw new OidcError(
			providerError === "access_denied" ? "access_denied" : "server_error",
			`The identity provider refused the sign-in: ${providerError.slice(0, 100)}${described ? ` (${described})` : ""}.`,
			providerError === "access_denied" ? 403 : 502,
		);
	}
	const code = params.get("code");
	if (!code) throw new OidcError("invalid_request", "The identity provider's answer has no code.");

	const idToken = await exchangeCode(config, doc, code, record.verifier);
	const claims = await verifyIdToken(config, doc, idToken, record.nonce);
	return { principal: principalOf(config, claims), role: roleOf(config, claims), returnTo: record.returnTo, context: record.context };
}

const TokenResponseSchema = z.object({ id_token: z.string().min(1), token_type: z.string() });

async function exchangeCode(config: OidcConfig, doc: Discovery, code: string, verifier: string): Promise<string> {
	const body = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: config.redirectUri, code_verifier: verifier });
	const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
	// client_secret_basic is the default (OIDC Core 9); _post only for a provider that offers nothing else.
	const methods = doc.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
	if (!methods.includes("client_secret_basic") && methods.includes("client_secret_post")) {
		body.set("client_id", config.clientId);
		body.set("client_secret", config.clientSecret);
	} else {
		headers.authorization = `Basic ${btoa(`${formEncode(config.clientId)}:${formEncode(config.clientSecret)}`)}`;
	}
	let response: Response;
	try {
		response = await (config.fetch ?? fetch)(doc.token_endpoint, { method: "POST", headers, body, redirect: "manual" });
	} catch {
		throw new OidcError("temporarily_unavailable", "The identity provider's token endpoint could not be reached.", 502);
	}
	const json: unknown = await response.json().catch(() => undefined);
	if (!response.ok) {
		const error =
			typeof (json as { error?: unknown })?.error === "string"
				? (json as { error: string }).error.slice(0, 100)
				: `HTTP ${response.status}`;
		throw new OidcError("invalid_grant", `The identity provider refused the code: ${error}. Start the sign-in again.`, 502);
	}
	const parsed = TokenResponseSchema.safeParse(json);
	if (!parsed.success || parsed.data.token_type.toLowerCase() !== "bearer") {
		throw new OidcError("server_error", "The identity provider's token answer has no ID token.", 502);
	}
	return parsed.data.id_token;
}

/** RFC 6749 2.3.1: client_id and secret are form-encoded before Basic. */
function formEncode(value: string): string {
	return encodeURIComponent(value).replace(/%20/g, "+");
}

async function verifyIdToken(config: OidcConfig, doc: Discovery, idToken: string, nonce: string): Promise<JWTPayload> {
	const algorithms = (doc.id_token_signing_alg_values_supported ?? ["RS256"]).filter((alg) => alg !== "none" && !alg.startsWith("HS"));
	let payload: JWTPayload;
	try {
		({ payload } = await jwtVerify(idToken, jwksOf(config, doc), {
			issuer: config.issuer,
			audience: config.clientId,
			algorithms,
			requiredClaims: ["iss", "sub", "aud", "exp", "iat"],
			clockTolerance: 60,
		}));
	} catch (error) {
		const why =
			error instanceof joseErrors.JWTExpired
				? "it has expired"
				: error instanceof joseErrors.JWTClaimValidationFailed
					? `its ${error.claim} claim is wrong`
					: error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey
						? "its signature does not verify with the provider's keys"
						: "it is not a valid signed token";
		throw new OidcError("invalid_token", `The identity provider's ID token was refused: ${why}.`, 401);
	}
	// OIDC Core 3.1.3.7: with several audiences, azp must be us.
	if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== config.clientId) {
		throw new OidcError("invalid_token", "The identity provider's ID token was refused: it was issued to another client (azp).", 401);
	}
	if (payload.nonce !== nonce) {
		throw new OidcError("invalid_token", "The identity provider's ID token was refused: its nonce is not this sign-in's.", 401);
	}
	return payload;
}

function principalOf(config: OidcConfig, claims: JWTPayload): string {
	const claimed = claims[config.principalClaim];
	// An unverified email names nobody.
	const usable = typeof claimed === "string" && claimed && !(config.principalClaim === "email" && claims.email_verified === false);
	const principal = usable ? claimed : (claims.sub as string);
	if (!principal || principal.length > 128) {
		throw new OidcError("invalid_token", "The identity provider's ID token names no usable principal (at most 128 characters).", 401);
	}
	return principal;
}

const RANK: Record<Role, number> = { viewer: 0, developer: 1, admin: 2 };

function roleOf(config: OidcConfig, claims: JWTPayload): Role {
	if (!config.roleClaim) return config.defaultRole;
	const raw = claims[config.roleClaim];
	const values = Array.isArray(raw) ? raw : [raw];
	let role: Role | undefined;
	for (const value of values) {
		if (typeof value !== "string" || !Object.hasOwn(config.roleMap, value)) continue;
		const mapped = config.roleMap[value];
		if (!role || RANK[mapped] > RANK[role]) role = mapped;
	}
	return role ?? config.defaultRole;
}

/** A JSON error a person understands (never a stack). */
export function oidcErrorResponse(error: unknown, headers?: HeadersInit): Response {
	const known = error instanceof OidcError ? error : new OidcError("server_error", "The sign-in failed.", 500);
	return Response.json({ error: known.code, message: known.message }, { status: known.status, headers });
}

/** Forget cached discovery documents and key sets (tests that restart a provider). */
export function forgetOidcProviders(): void {
	discoveries.clear();
	jwksSets.clear();
}
