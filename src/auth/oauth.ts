/**
 * The guard's OAuth 2.1 roles, on @cloudflare/workers-oauth-provider:
 *   - authorization server: RFC 8414 metadata, token (code + PKCE S256, refresh
 *     rotation), revocation, Dynamic Client Registration, Client ID Metadata
 *     Documents, `iss` on redirects (RFC 9207); /authorize is ours (authorize.ts);
 *   - protected resources `/mcp`, `/sse` and `/api`, each its own RFC 8707
 *     resource, so a token issued for one is refused at the others, with its
 *     RFC 9728 metadata and the challenges that point to it.
 *
 * OAuth is on when people can sign in (MCP_AUTH_TOKENS or OIDC_ISSUER) and
 * OAUTH_KV is bound. The issuer is PUBLIC_URL's origin, or, without it, the
 * request's own origin on a loopback host (`wrangler dev`): a deployed guard
 * without PUBLIC_URL issues no tokens, since its Host header proves nothing.
 */
import { OAuthAuthorizationServer } from "@cloudflare/workers-oauth-provider";
import { type Env, readConfig } from "../config";
import type { Role } from "../guard/enums";

/** The Worker's environment, as the authorization server's library sees it (OAUTH_KV holds its state). */
export type OAuthEnv = Env;

/** The protected resources, by the path that names them. */
export const RESOURCE_PATHS = ["/mcp", "/sse", "/api"] as const;

export const AUTHORIZE_PATH = "/authorize";
export const TOKEN_PATH = "/oauth/token";
export const REGISTER_PATH = "/oauth/register";
/** Paths the library serves (metadata, token, revocation, registration). */
export const PROTECTED_RESOURCE_METADATA = "/.well-known/oauth-protected-resource";

/** What a grant carries to every request made with its tokens (encrypted at rest by the library). */
export interface GrantProps {
	principal: string;
	role: Role;
	/** Unique per approval: sessions opened with this grant's tokens belong to it. */
	grant: string;
	/** How the person signed in: with a token (its SHA-256, re-checked on each request) or at the OIDC provider. */
	via: { kind: "token"; tokenHash: string } | { kind: "oidc"; issuer: string };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Where the library keeps a grant in OAUTH_KV (`grant:<userId>:<grantId>`; an
 * access token is `<userId>:<grantId>:<secret>`). Validating a token reads only
 * the token's record, so the guard also asks that its grant still exists: a
 * token record left behind by a revocation (cut short, or a listing that missed
 * it) is refused all the same. test/worker/oauth/grants.test.ts pins the format.
 */
export function grantRecordKey(accessToken: string): string {
	const [userId, grantId] = accessToken.split(":");
	return `grant:${userId}:${grantId}`;
}

export function oauthEnabled(env: OAuthEnv): boolean {
	const { access } = readConfig(env);
	return Boolean((access.tokens.kind !== "none" || access.oidcIssuer) && env.OAUTH_KV);
}

/** The issuer for this request, or undefined when OAuth is off or the server does not know its own URL. */
export function issuerFor(env: OAuthEnv, url: URL): string | undefined {
	if (!oauthEnabled(env)) return undefined;
	const configured = readConfig(env).edge.publicOrigin;
	if (configured) {
		const origin = new URL(configured);
		return origin.protocol === "https:" || (origin.protocol === "http:" && LOOPBACK_HOSTS.has(origin.hostname)) ? origin.origin : undefined;
	}
	return LOOPBACK_HOSTS.has(url.hostname) ? url.origin : undefined;
}

/** The resource a path belongs to (`/sse/message` is `/sse`'s; `/api/...` is `/api`'s), or undefined. */
export function resourceFor(issuer: string, pathname: string): string | undefined {
	for (const path of RESOURCE_PATHS) if (pathname === path || pathname.startsWith(`${path}/`)) return issuer + path;
	return undefined;
}

/** RFC 9728 3.1: the well-known prefix inserted before the resource's path. */
export function resourceMetadataUrl(resource: string): string {
	const url = new URL(resource);
	return `${url.origin}${PROTECTED_RESOURCE_METADATA}${url.pathname === "/" ? "" : url.pathname}`;
}

/** OAUTH_ACCESS_TOKEN_TTL, parsed in src/config.ts (the library refuses less than a minute: KV's shortest expiry). */
export function accessTokenTtl(env: Env): number {
	return readConfig(env).access.accessTokenTtlSeconds;
}

const servers = new Map<string, OAuthAuthorizationServer<OAuthEnv>>();

/** One authorization server per issuer and token lifetime (the library fixes both at construction). */
export function authorizationServer(issuer: string, env: OAuthEnv): OAuthAuthorizationServer<OAuthEnv> {
	const ttl = accessTokenTtl(env);
	const key = `${issuer} ${ttl}`;
	let server = servers.get(key);
	if (!server) {
		server = new OAuthAuthorizationServer<OAuthEnv>({
			issuer,
			resources: RESOURCE_PATHS.map((path) => issuer + path),
			// Older clients that send no `resource` are MCP clients of /mcp.
			defaultResource: `${issuer}/mcp`,
			authorizeEndpoint: AUTHORIZE_PATH,
			tokenEndpoint: TOKEN_PATH,
			clientRegistrationEndpoint: REGISTER_PATH,
			clientIdMetadataDocumentEnabled: true,
			accessTokenTTL: ttl,
			// Errors are answered by the library; the log gets the check that failed, never a token.
			onError: ({ code, internal }) => {
				console.warn(JSON.stringify({ event: "guard.oauth_error", code, reason: internal?.reason }));
			},
		});
		servers.set(key, server);
	}
	return server;
}

/** Whether the library answers this path (metadata, token, revocation, registration). */
export function isAuthorizationServerPath(pathname: string): boolean {
	return pathname === "/.well-known/oauth-authorization-server" || pathname === TOKEN_PATH || pathname === REGISTER_PATH;
}

/** RFC 9728 metadata for `/.well-known/oauth-protected-resource[/mcp|/sse|/api]`, or undefined for another path. */
export function protectedResourceMetadata(env: OAuthEnv, url: URL): Response | undefined {
	if (url.pathname !== PROTECTED_RESOURCE_METADATA && !url.pathname.startsWith(`${PROTECTED_RESOURCE_METADATA}/`)) return undefined;
	const issuer = issuerFor(env, url);
	const suffix = url.pathname.slice(PROTECTED_RESOURCE_METADATA.length) || "/mcp";
	if (!issuer || !(RESOURCE_PATHS as readonly string[]).includes(suffix)) return undefined;
	return Response.json(
		{
			// The bare well-known names /mcp: the resource MCP clients reach first.
			resource: issuer + suffix,
			authorization_servers: [issuer],
			bearer_methods_supported: ["header"],
			resource_name: "stage0-edge-guard",
		},
		{ headers: { "cache-control": "max-age=300", "access-control-allow-origin": "*" } },
	);
}
