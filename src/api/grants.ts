/**
 * People's OAuth grants, for admins (bearer-authenticated, like /api/audit):
 *   GET    /api/grants?principal=&limit=&cursor=    the grants (everyone's, or one person's), with next_cursor;
 *                                                  never a token, a secret or the grant's encrypted props
 *   DELETE /api/grants/:id?principal=NAME            revokes one grant of that person
 *   DELETE /api/grants?principal=NAME                revokes every grant of that person
 * Revoking deletes the grant and its access and refresh tokens (the library's
 * revokeGrant), so the person's client, and its open MCP sessions, are refused
 * at their next request; each revocation is logged (`oauth.grant_revoked`).
 * A grant's userId is encodeURIComponent(principal) (src/auth/authorize.ts).
 */
import type { GrantSummary, OAuthHelpers } from "@cloudflare/workers-oauth-provider";
import { knownPrincipals } from "../auth/authenticate";
import { base64urlText, fromBase64urlText } from "../base64url";
import { authorizationServer, issuerFor } from "../auth/oauth";
import type { Caller } from "../auth/tokens";
import type { Env, TokenTableSetting } from "../config";
import { jsonError } from "../http";

const DEFAULT_LIMIT = 100;
/** The library lists at most 1000 keys at a time. */
const MAX_LIMIT = 1000;
/** The library's grant ids (16 characters today); anything else is not one. */
const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** As long as a principal can be (MCP_AUTH_TOKENS, OIDC sign-in). */
const MAX_PRINCIPAL = 128;

/** A grant as an admin sees it. */
export interface GrantView {
	id: string;
	principal: string;
	/** The role granted at sign-in (a token sign-in's role follows MCP_AUTH_TOKENS at each request). */
	role: string | null;
	/** How the person signed in: `token` or `oidc`. */
	via: string | null;
	client_id: string;
	client_name: string | null;
	scope: string[];
	resource: string | string[] | null;
	created_at: string;
	expires_at: string | null;
}

/** Where a listing stopped: the principal, and the library's cursor within their grants. */
interface Position {
	principal: string;
	cursor: string | null;
}

export async function handleGrantsApi(request: Request, env: Env, tokens: TokenTableSetting, caller: Caller): Promise<Response> {
	if (caller.role !== "admin") return jsonError(403, "forbidden", "Only admins may list or revoke OAuth grants.");
	const url = new URL(request.url);
	const parts = url.pathname.replace(/\/+$/, "").split("/").slice(3); // after /api/grants
	if (parts.length > 1) return jsonError(404, "not_found", "No such route: use /api/grants or /api/grants/:id.");
	const allowed = parts.length === 0 ? "GET, DELETE" : "DELETE";
	if (!allowed.split(", ").includes(request.method)) {
		return jsonError(405, "method_not_allowed", `Use ${allowed.replace(", ", " or ")}.`, { allow: allowed });
	}

	const issuer = issuerFor(env, url);
	if (!issuer) {
		return jsonError(404, "oauth_off", "OAuth sign-in is off on this server (README, 'OAuth sign-in'), so it honours no grant.");
	}
	const oauth = authorizationServer(issuer, env).getOAuthApi(env);

	const rawPrincipal = url.searchParams.get("principal");
	if (rawPrincipal !== null && (rawPrincipal.length === 0 || rawPrincipal.length > MAX_PRINCIPAL)) {
		return jsonError(400, "invalid_principal", `principal must be a name of 1 to ${MAX_PRINCIPAL} characters.`);
	}
	const principal = rawPrincipal ?? undefined;

	if (request.method === "GET") return list(url, oauth, principal ? [principal] : await knownPrincipals(tokens, env.OAUTH_KV));

	if (!principal) {
		return jsonError(
			400,
			"missing_principal",
			"Name whose grants to revoke: ?principal=NAME (GET /api/grants lists every grant with its principal).",
		);
	}
	const names = clientNames(oauth);
	if (parts.length === 0) {
		// All listed first: revoking deletes keys, and the listing should not walk a namespace that changes under it.
		const grants: GrantSummary[] = [];
		for await (const grant of grantsOf(oauth, principal)) grants.push(grant);
		const revoked: GrantView[] = [];
		for (const grant of grants) revoked.push(await revoke(oauth, grant, caller, names));
		return Response.json({ revoked });
	}
	const id = safeDecode(parts[0]);
	if (id === undefined || !GRANT_ID.test(id))
		return jsonError(400, "invalid_grant_id", "That is not a grant id: use an id from GET /api/grants.");
	for await (const grant of grantsOf(oauth, principal)) {
		if (grant.id === id) return Response.json({ revoked: [await revoke(oauth, grant, caller, names)] });
	}
	return jsonError(404, "not_found", `${principal.slice(0, MAX_PRINCIPAL)} has no grant ${id}.`);
}

/** A page of grants: each principal's in turn, from where the cursor says. */
async function list(url: URL, oauth: OAuthHelpers, principals: string[]): Promise<Response> {
	const rawLimit = url.searchParams.get("limit");
	const limit = rawLimit === null ? DEFAULT_LIMIT : /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
	if (!(limit >= 1 && limit <= MAX_LIMIT)) {
		return jsonError(400, "invalid_limit", `limit must be a whole number from 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT}).`);
	}
	const rawCursor = url.searchParams.get("cursor");
	const start = rawCursor === null ? undefined : decodeCursor(rawCursor);
	const startAt = start ? principals.indexOf(start.principal) : 0;
	if (rawCursor !== null && (!start || startAt === -1)) {
		return jsonError(400, "invalid_cursor", "cursor is not one this server returned for this query: use next_cursor, or start without it.");
	}

	const names = clientNames(oauth);
	const grants: GrantView[] = [];
	let next: Position | undefined;
	for (let i = startAt; i < principals.length && !next; i++) {
		let cursor = i === startAt ? (start?.cursor ?? undefined) : undefined;
		do {
			const page = await listPage(oauth, principals[i], limit - grants.length, cursor);
			if (!page) return jsonError(400, "invalid_cursor", "cursor is no longer valid: start again without it.");
			for (const grant of page.items) grants.push(await view(grant, names));
			cursor = page.cursor;
		} while (cursor && grants.length < limit);
		if (grants.length >= limit && (cursor || i + 1 < principals.length))
			next = { principal: principals[cursor ? i : i + 1], cursor: cursor ?? null };
	}
	// Pages follow the principals' order; within a page, newest first.
	grants.sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id));
	return Response.json({ grants, next_cursor: next ? encodeCursor(next) : null });
}

/** One page of a person's grants from the library, or undefined when it refused the cursor. */
async function listPage(oauth: OAuthHelpers, principal: string, limit: number, cursor?: string) {
	try {
		return await oauth.listUserGrants(encodeURIComponent(principal), { limit, ...(cursor ? { cursor } : {}) });
	} catch (error) {
		if (cursor) return undefined;
		throw error;
	}
}

/** Every grant of a person, page by page. */
async function* grantsOf(oauth: OAuthHelpers, principal: string): AsyncGenerator<GrantSummary> {
	let cursor: string | undefined;
	do {
		const page = await oauth.listUserGrants(encodeURIComponent(principal), { limit: MAX_LIMIT, ...(cursor ? { cursor } : {}) });
		yield* page.items;
		cursor = page.cursor;
	} while (cursor);
}

/** Revokes a grant and its tokens, and logs who did it (never a token). */
async function revoke(oauth: OAuthHelpers, grant: GrantSummary, by: Caller, names: ClientNames): Promise<GrantView> {
	await oauth.revokeGrant(grant.id, grant.userId);
	const revoked = await view(grant, names);
	console.log(
		JSON.stringify({
			event: "oauth.grant_revoked",
			at: new Date().toISOString(),
			by: by.principal,
			by_role: by.role,
			principal: revoked.principal,
			grant_id: grant.id,
			client_id: grant.clientId,
			via: revoked.via,
		}),
	);
	return revoked;
}

type ClientNames = (clientId: string) => Promise<string | null>;

/** Client names by id, each looked up once per request (a published client's document may be fetched; failing, no name). */
function clientNames(oauth: OAuthHelpers): ClientNames {
	const known = new Map<string, Promise<string | null>>();
	return (clientId) => {
		let name = known.get(clientId);
		if (!name) {
			name = oauth.lookupClient(clientId).then(
				(client) => client?.clientName ?? null,
				() => null,
			);
			known.set(clientId, name);
		}
		return name;
	};
}

async function view(grant: GrantSummary, names: ClientNames): Promise<GrantView> {
	const metadata = (grant.metadata ?? {}) as Record<string, unknown>;
	const text = (value: unknown) => (typeof value === "string" ? value : null);
	return {
		id: grant.id,
		principal: safeDecode(grant.userId) ?? grant.userId,
		role: text(metadata.role),
		via: text(metadata.via),
		client_id: grant.clientId,
		client_name: await names(grant.clientId),
		scope: grant.scope ?? [],
		resource: grant.resource ?? null,
		created_at: new Date(grant.createdAt * 1000).toISOString(),
		expires_at: grant.expiresAt ? new Date(grant.expiresAt * 1000).toISOString() : null,
	};
}

function safeDecode(text: string): string | undefined {
	try {
		return decodeURIComponent(text);
	} catch {
		return undefined;
	}
}

/** The cursor is opaque to clients: base64url of JSON [principal, library cursor]. */
function encodeCursor(position: Position): string {
	return base64urlText(JSON.stringify([position.principal, position.cursor]));
}

function decodeCursor(raw: string): Position | undefined {
	try {
		const [principal, cursor] = JSON.parse(fromBase64urlText(raw) ?? "") as unknown[];
		if (typeof principal === "string" && (cursor === null || (typeof cursor === "string" && cursor.length <= 2048)))
			return { principal, cursor };
	} catch {}
	return undefined;
}
