/**
 * The operator: the person at the terminal of `npm run dev`. In loopback-only
 * mode (no MCP_AUTH_TOKENS) every caller is `local`, so nobody else could
 * approve what the guard holds. The launcher (scripts/dev.ts) mints a random
 * secret at each start, prints it in the approver link, and gives the Worker
 * only its SHA-256 (OPERATOR_TOKEN_SHA256); the secret dies with the server.
 *
 * That secret is accepted as a bearer token only on the approvals API, only in
 * loopback-only mode, and signs in as principal `operator` with the admin role.
 * On /mcp and /sse it means nothing, so the agent can never act as its approver.
 */
import type { AccessConfig } from "../config";
import type { Approver } from "../guard/enums";
import type { AuthResult } from "./authenticate";
import { err, ok } from "../guard/result";
import { lookupToken, parseTokenTable, type Caller, type TokenEntry } from "./tokens";
import { jsonError } from "../http";

export const OPERATOR: Caller = { principal: "operator", role: "admin", credential: "operator" };

/** Who can approve a held call on this server. */
export function approverOf(access: Pick<AccessConfig, "tokens" | "operatorTokenSha256" | "oidcIssuer">): Approver {
	// People sign in (tokens or an OIDC provider): admins approve.
	if (access.tokens.kind !== "none" || access.oidcIssuer) return "admin";
	return access.operatorTokenSha256 ? "operator" : "none";
}

function isApprovalsApi(pathname: string): boolean {
	return pathname === "/api/approvals" || pathname.startsWith("/api/approvals/");
}

let cachedHash: string | undefined;
let cachedTable: TokenEntry[] = [];

function refused(message: string): AuthResult {
	return err(
		jsonError(401, "invalid_token", message, {
			"www-authenticate": 'Bearer realm="stage0-edge-guard", error="invalid_token"',
		}),
	);
}

/**
 * For a loopback request in loopback-only mode: the operator, when the request
 * is for the approvals API and carries the operator secret; a 401 when it
 * carries any other bearer there (an approver link of an earlier start, say),
 * rather than silently serving it as `local`; undefined otherwise (the caller
 * is then `local`).
 */
export async function loopbackOperator(
	request: Request,
	access: Pick<AccessConfig, "tokens" | "operatorTokenSha256">,
): Promise<AuthResult | undefined> {
	if (access.tokens.kind !== "none") return undefined;
	if (!isApprovalsApi(new URL(request.url).pathname)) return undefined;
	const header = request.headers.get("authorization");
	if (header === null) return undefined;
	const hash = access.operatorTokenSha256;
	if (!hash) {
		return refused("This server has no approver link: it was not started with `npm run dev`, which prints one at each start.");
	}
	const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/i.exec(header.trim());
	if (hash !== cachedHash) {
		cachedHash = hash;
		cachedTable = parseTokenTable(JSON.stringify({ [hash]: OPERATOR }));
	}
	const caller = match ? await lookupToken(match[1], cachedTable) : undefined;
	if (!caller) {
		return refused(
			"This is not the approver link of this server's current run (each start of `npm run dev` prints a new one; an old one stops working).",
		);
	}
	return ok(caller);
}
