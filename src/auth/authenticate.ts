/**
 * Who is calling. Runs in the Worker before any Durable Object is touched.
 *
 * With MCP_AUTH_TOKENS set, a valid `Authorization: Bearer <token>` is required.
 * Without it, only loopback requests are served (as principal `local`), so
 * `npm run dev` needs no set-up while a deployed server is closed by default.
 * On Cloudflare the request URL's host is the route that matched, so a remote
 * caller cannot reach the Worker under a loopback host name; and where the
 * runtime reports the client's address (CF-Connecting-IP), it must be loopback
 * too, so `wrangler dev --ip 0.0.0.0` does not serve the network as `local`.
 */
import { type Caller, lookupToken, parseTokenTable, ROLES, type Role, type TokenEntry } from "./tokens";
import { loopbackOperator, type OperatorEnv } from "./operator";
import { jsonError } from "../http";

export interface AuthEnv extends OperatorEnv {
	MCP_AUTH_TOKENS?: string;
	LOCAL_ROLE?: string;
}

export type AuthResult = { ok: true; caller: Caller } | { ok: false; response: Response };

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const LOOPBACK_ADDRESS = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

function isLoopback(request: Request): boolean {
	if (!LOOPBACK_HOSTS.has(new URL(request.url).hostname)) return false;
	const client = request.headers.get("cf-connecting-ip");
	return client === null || LOOPBACK_ADDRESS.test(client.trim());
}

let cachedRaw: string | undefined;
let cachedTable: TokenEntry[] | Error | undefined;

function tokenTable(raw: string): TokenEntry[] | Error {
	if (raw !== cachedRaw) {
		cachedRaw = raw;
		try {
			cachedTable = parseTokenTable(raw);
		} catch (error) {
			cachedTable = error as Error;
		}
	}
	return cachedTable!;
}

export function unauthorized(message: string, error = "invalid_token"): Response {
	return jsonError(401, error, message, { "www-authenticate": `Bearer realm="stage0-edge-guard", error="${error}"` });
}

export async function authenticate(request: Request, env: AuthEnv): Promise<AuthResult> {
	const raw = env.MCP_AUTH_TOKENS?.trim();
	if (!raw) {
		if (isLoopback(request)) {
			// The person at the `npm run dev` terminal, on the approvals API only (see operator.ts).
			const operator = await loopbackOperator(request, env);
			if (operator) return operator;
			const role = (ROLES as readonly string[]).includes(env.LOCAL_ROLE ?? "") ? (env.LOCAL_ROLE as Role) : "developer";
			return { ok: true, caller: { principal: "local", role } };
		}
		return {
			ok: false,
			response: unauthorized(
				"This server has no MCP_AUTH_TOKENS configured, so it only serves loopback requests. Create a token with `npm run token:new -- --principal NAME --role developer` and set MCP_AUTH_TOKENS (wrangler secret put MCP_AUTH_TOKENS).",
				"invalid_request",
			),
		};
	}

	const table = tokenTable(raw);
	if (table instanceof Error) {
		// Fail closed: a broken table must not silently open the server.
		return { ok: false, response: jsonError(503, "server_misconfigured", table.message) };
	}
	const header = request.headers.get("authorization");
	if (!header) return { ok: false, response: unauthorized("Missing Authorization: Bearer <token> header.", "invalid_request") };
	const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/.exec(header.trim());
	if (!match) return { ok: false, response: unauthorized("Malformed Authorization header: expected 'Bearer <token>'.", "invalid_request") };
	const caller = await lookupToken(match[1], table);
	if (!caller) return { ok: false, response: unauthorized("Unknown bearer token.") };
	return { ok: true, caller };
}

/**
 * Every principal that can have records: those of the token table, and
 * `local` (loopback callers when no table is set).
 */
export function knownPrincipals(env: AuthEnv): string[] {
	const raw = env.MCP_AUTH_TOKENS?.trim();
	const table = raw ? tokenTable(raw) : [];
	const names = new Set<string>(["local"]);
	if (!(table instanceof Error)) for (const entry of table) names.add(entry.caller.principal);
	return [...names].sort();
}
