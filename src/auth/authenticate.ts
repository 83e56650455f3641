/**
 * Who is calling. Runs in the Worker before any Durable Object is touched.
 *
 * With MCP_AUTH_TOKENS set, a valid `Authorization: Bearer <token>` is required.
 * Without it, the server serves `local` callers only when the project's launcher
 * attests that `wrangler dev` is bound to a loopback address (DEV_LOOPBACK_BIND):
 * under `wrangler dev` the Worker cannot see the peer's address (CF-Connecting-IP
 * is whatever the client sent, the URL's host is its Host header, request.cf is a
 * placeholder), so nothing a client sends can make a request "local". The host
 * must still be a loopback name, so a DNS-rebinding page is refused too.
 */
import type { AccessConfig, Env, TokenTableSetting } from "../config";
import { ROLES } from "../guard/enums";
import { err, ok, type Result } from "../guard/result";
import { jsonError } from "../http";
import { authorizationServer, type GrantProps, grantRecordKey, issuerFor, resourceFor, resourceMetadataUrl } from "./oauth";
import { loopbackOperator } from "./operator";
import { type Caller, lookupToken, type TokenEntry } from "./tokens";

/** People sign in (a token table or an OIDC provider), so every request needs a credential. */
export function requiresCredentials(access: Pick<AccessConfig, "tokens" | "oidcIssuer">): boolean {
	return access.tokens.kind !== "none" || Boolean(access.oidcIssuer);
}

/** The shape of the authorization server's access tokens (`user:grant:secret`); static tokens never hold a colon. */
const OAUTH_TOKEN = /^[A-Za-z0-9%._~-]{1,400}:[A-Za-z0-9_-]{1,128}:[A-Za-z0-9_-]{16,256}$/;

/** The caller, or the response that refuses the request. */
export type AuthResult = Result<Caller, Response>;

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const LOOPBACK_ADDRESS = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
/** RFC 6750 b64token, bounded: anything else after "Bearer " is a malformed request. */
const BEARER = /^Bearer(?: +(.*))?$/i;
const B64TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const HOW_TO_GET_A_TOKEN =
	"Send the header `Authorization: Bearer <token>`. A token is created by the server's administrator with `npm run token:new -- --principal NAME --role developer` and added to MCP_AUTH_TOKENS (README, 'Tokens').";

/**
 * A person signing in with their token on a page (the consent page, the
 * approvers' page): the caller it names, or undefined for anything else (no
 * table, a broken one, a malformed or unknown token). The same table and the
 * same constant-time lookup as a bearer header.
 */
export async function signInWithToken(token: string, tokens: TokenTableSetting): Promise<Caller | undefined> {
	const trimmed = token.trim();
	if (tokens.kind !== "table" || trimmed.length < 16 || trimmed.length > 512 || !B64TOKEN.test(trimmed)) return undefined;
	return lookupToken(trimmed, tokens.entries);
}

/**
 * A 401 that says what is needed, in the body and in WWW-Authenticate. Per
 * RFC 6750 a request without credentials gets no error code in the challenge.
 */
export function unauthorized(message: string, error?: "invalid_token", resourceMetadata?: string): Response {
	const challenge = [`Bearer realm="stage0-edge-guard"`];
	// RFC 9728 5.1: where an OAuth client finds how to get a token for this resource.
	if (resourceMetadata) challenge.push(`resource_metadata="${resourceMetadata}"`);
	if (error) challenge.push(`error="${error}"`);
	challenge.push(`error_description="A bearer token is required: Authorization: Bearer <token>"`);
	const how = resourceMetadata
		? `${HOW_TO_GET_A_TOKEN} MCP clients that speak OAuth sign in by themselves (README, 'OAuth sign-in').`
		: HOW_TO_GET_A_TOKEN;
	return jsonError(401, error ?? "invalid_request", `${message} ${how}`, { "www-authenticate": challenge.join(", ") });
}

/** The protected resource of this request and its metadata URL, when OAuth is on. */
function oauthResource(request: Request, env: Env): { issuer: string; resource: string; metadata: string } | undefined {
	const url = new URL(request.url);
	const issuer = issuerFor(env, url);
	const resource = issuer ? resourceFor(issuer, url.pathname) : undefined;
	return issuer && resource ? { issuer, resource, metadata: resourceMetadataUrl(resource) } : undefined;
}

/** An access token of the guard's authorization server, valid for this very resource (RFC 8707), and its grant. */
async function authenticateOAuth(
	token: string,
	target: { issuer: string; resource: string; metadata: string },
	table: readonly TokenEntry[],
	env: Env,
): Promise<AuthResult> {
	const refuse = (message: string) => err(unauthorized(message, "invalid_token", target.metadata));
	// Both reads at once: the grant's check costs no extra round trip.
	const [validated, grant] = await Promise.all([
		authorizationServer(target.issuer, env).validateToken<GrantProps>(target.resource, token, env),
		env.OAUTH_KV.get(grantRecordKey(token)),
	]);
	if (!validated) return refuse("This access token is not valid here: it has expired, was revoked, or was issued for another resource.");
	if (grant === null) return refuse("This access token's grant was revoked: sign in again.");
	const props = validated.props;
	if (
		!props ||
		typeof props.principal !== "string" ||
		!(ROLES as readonly string[]).includes(props.role) ||
		typeof props.grant !== "string"
	) {
		return refuse("This access token's grant is not usable.");
	}
	let role = props.role;
	const via = props.via;
	if (via?.kind === "token") {
		// Signed in with a token: the grant lives only as long as that token stays in MCP_AUTH_TOKENS, with its current role.
		const entry = table.find((e) => e.caller.credential === via.tokenHash);
		if (!entry) return refuse("The token this grant was signed in with is no longer configured: sign in again.");
		role = entry.caller.role;
	}
	return ok({ principal: props.principal, role, credential: `oauth:${props.grant}` });
}

function malformed(message: string): Response {
	return jsonError(400, "invalid_request", message, {
		"www-authenticate": `Bearer realm="stage0-edge-guard", error="invalid_request", error_description="${message.replace(/"/g, "'")}"`,
	});
}

/**
 * Who is calling: a static bearer token, an access token of the guard's own
 * authorization server (only when `oauthEnv` is given, for the resource this
 * request is to), or in loopback-only mode the `local` caller.
 */
export async function authenticate(request: Request, access: AccessConfig, oauthEnv?: Env): Promise<AuthResult> {
	if (!requiresCredentials(access)) return authenticateLoopback(request, access);
	const tokens = access.tokens;
	if (tokens.kind === "invalid") {
		// Fail closed: a broken table must not silently open the server.
		return err(jsonError(503, "server_misconfigured", tokens.error));
	}
	const table = tokens.kind === "table" ? tokens.entries : [];
	const target = oauthEnv ? oauthResource(request, oauthEnv) : undefined;
	const header = request.headers.get("authorization")?.trim();
	if (!header)
		return err(unauthorized("This server needs a bearer token, and the request has no Authorization header.", undefined, target?.metadata));
	const bearer = BEARER.exec(header);
	if (!bearer)
		return err(
			unauthorized("This server needs a bearer token, and the Authorization header uses another scheme.", undefined, target?.metadata),
		);
	const token = bearer[1] ?? "";
	if (target && oauthEnv && OAUTH_TOKEN.test(token)) return authenticateOAuth(token, target, table, oauthEnv);
	if (token.length < 16 || token.length > 512 || !B64TOKEN.test(token)) {
		return err(malformed("Malformed Authorization header: expected 'Bearer <token>' with one token of 16 to 512 characters."));
	}
	const caller = await lookupToken(token, table);
	if (!caller) return err(unauthorized("Unknown bearer token.", "invalid_token", target?.metadata));
	return ok(caller);
}

async function authenticateLoopback(request: Request, access: AccessConfig): Promise<AuthResult> {
	if (!access.loopbackBind) {
		return err(
			jsonError(
				503,
				"loopback_not_attested",
				"This server has no MCP_AUTH_TOKENS and was not started on a loopback address by the project's launcher (`npm run dev`), so it serves no one: the runtime cannot tell where a request comes from. Start it with `npm run dev`, or create tokens with `npm run token:new -- --principal NAME --role developer` and set MCP_AUTH_TOKENS.",
			),
		);
	}
	// Not proof of anything (a client can send it), but where the runtime reports a peer
	// that is not loopback, the attested bind was wrong: refuse rather than serve it as local.
	const peer = request.headers.get("cf-connecting-ip");
	if (!LOOPBACK_HOSTS.has(new URL(request.url).hostname) || (peer !== null && !LOOPBACK_ADDRESS.test(peer.trim()))) {
		return err(
			unauthorized(
				"This server has no MCP_AUTH_TOKENS configured, so it only serves loopback requests (localhost, 127.0.0.1, [::1]). Create a token with `npm run token:new -- --principal NAME --role developer` and set MCP_AUTH_TOKENS (wrangler secret put MCP_AUTH_TOKENS).",
			),
		);
	}
	// The person at the `npm run dev` terminal, on the approvals API only (see operator.ts).
	const operator = await loopbackOperator(request, access);
	if (operator) return operator;
	return ok({ principal: "local", role: access.localRole, credential: "loopback" });
}

/** The caller MCP_AUTH_TOKENS names today for a token's SHA-256 (hex), or undefined. */
export function callerOfCredential(tokens: TokenTableSetting, credential: string): Caller | undefined {
	if (tokens.kind !== "table") return undefined;
	return tokens.entries.find((entry) => entry.caller.credential === credential)?.caller;
}

/** Where the authorization server remembers a person it granted access to (OAUTH_KV; a name only). */
const GRANTED_PRINCIPAL = "principal:";

/** Remembers that `principal` was granted access, so that admins' audit queries across principals include them. */
export async function rememberGrantedPrincipal(kv: KVNamespace, principal: string): Promise<void> {
	await kv.put(GRANTED_PRINCIPAL + encodeURIComponent(principal), "1");
}

/**
 * Every principal that can have records: those of the token table, `local`
 * (loopback callers when no table is set), and everyone the authorization
 * server granted access to (people signed in through the OIDC provider are in
 * no table).
 */
export async function knownPrincipals(tokens: TokenTableSetting, kv?: KVNamespace): Promise<string[]> {
	const names = new Set<string>(["local"]);
	if (tokens.kind === "table") for (const entry of tokens.entries) names.add(entry.caller.principal);
	let cursor: string | undefined;
	while (kv) {
		const page: KVNamespaceListResult<unknown, string> = await kv.list({ prefix: GRANTED_PRINCIPAL, ...(cursor ? { cursor } : {}) });
		for (const key of page.keys) names.add(decodeURIComponent(key.name.slice(GRANTED_PRINCIPAL.length)));
		if (page.list_complete) break;
		cursor = page.cursor;
	}
	return [...names].sort();
}
