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
import type { AccessConfig, TokenTableSetting } from "../config";
import { loopbackOperator } from "./operator";
import { jsonError } from "../http";
import { type Caller, lookupToken } from "./tokens";

export type AuthResult = { ok: true; caller: Caller } | { ok: false; response: Response };

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
export function unauthorized(message: string, error?: "invalid_token"): Response {
	const challenge = [`Bearer realm="stage0-edge-guard"`];
	if (error) challenge.push(`error="${error}"`);
	challenge.push(`error_description="A bearer token is required: Authorization: Bearer <token>"`);
	return jsonError(401, error ?? "invalid_request", `${message} ${HOW_TO_GET_A_TOKEN}`, { "www-authenticate": challenge.join(", ") });
}

function malformed(message: string): Response {
	return jsonError(400, "invalid_request", message, {
		"www-authenticate": `Bearer realm="stage0-edge-guard", error="invalid_request", error_description="${message.replace(/"/g, "'")}"`,
	});
}

export async function authenticate(request: Request, access: AccessConfig): Promise<AuthResult> {
	const tokens = access.tokens;
	if (tokens.kind === "none") return authenticateLoopback(request, access);
	if (tokens.kind === "invalid") {
		// Fail closed: a broken table must not silently open the server.
		return { ok: false, response: jsonError(503, "server_misconfigured", tokens.error) };
	}
	const header = request.headers.get("authorization")?.trim();
	if (!header)
		return { ok: false, response: unauthorized("This server needs a bearer token, and the request has no Authorization header.") };
	const bearer = BEARER.exec(header);
	if (!bearer)
		return { ok: false, response: unauthorized("This server needs a bearer token, and the Authorization header uses another scheme.") };
	const token = bearer[1] ?? "";
	if (token.length < 16 || token.length > 512 || !B64TOKEN.test(token)) {
		return {
			ok: false,
			response: malformed("Malformed Authorization header: expected 'Bearer <token>' with one token of 16 to 512 characters."),
		};
	}
	const caller = await lookupToken(token, tokens.entries);
	if (!caller) return { ok: false, response: unauthorized("Unknown bearer token.", "invalid_token") };
	return { ok: true, caller };
}

async function authenticateLoopback(request: Request, access: AccessConfig): Promise<AuthResult> {
	if (!access.loopbackBind) {
		return {
			ok: false,
			response: jsonError(
				503,
				"loopback_not_attested",
				"This server has no MCP_AUTH_TOKENS and was not started on a loopback address by the project's launcher (`npm run dev`), so it serves no one: the runtime cannot tell where a request comes from. Start it with `npm run dev`, or create tokens with `npm run token:new -- --principal NAME --role developer` and set MCP_AUTH_TOKENS.",
			),
		};
	}
	// Not proof of anything (a client can send it), but where the runtime reports a peer
	// that is not loopback, the attested bind was wrong: refuse rather than serve it as local.
	const peer = request.headers.get("cf-connecting-ip");
	if (!LOOPBACK_HOSTS.has(new URL(request.url).hostname) || (peer !== null && !LOOPBACK_ADDRESS.test(peer.trim()))) {
		return {
			ok: false,
			response: unauthorized(
				"This server has no MCP_AUTH_TOKENS configured, so it only serves loopback requests (localhost, 127.0.0.1, [::1]). Create a token with `npm run token:new -- --principal NAME --role developer` and set MCP_AUTH_TOKENS (wrangler secret put MCP_AUTH_TOKENS).",
			),
		};
	}
	// The person at the `npm run dev` terminal, on the approvals API only (see operator.ts).
	const operator = await loopbackOperator(request, access);
	if (operator) return operator;
	return { ok: true, caller: { principal: "local", role: access.localRole, credential: "loopback" } };
}

/**
 * Every principal that can have records: those of the token table, and
 * `local` (loopback callers when no table is set).
 */
export function knownPrincipals(tokens: TokenTableSetting): string[] {
	const names = new Set<string>(["local"]);
	if (tokens.kind === "table") for (const entry of tokens.entries) names.add(entry.caller.principal);
	return [...names].sort();
}
