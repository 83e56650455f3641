/**
 * The audit trail, for people (all bearer-authenticated):
 *   GET /api/audit?principal=&tool=&verdict=&since=&until=&limit=&cursor=   JSON, newest first, with next_cursor
 *   GET /api/audit?...&format=ndjson                                        every matching record, streamed
 *   GET /api/audit/:request_id                                              the decision(s) behind a request id
 * Admins read everyone's records; anyone else reads only their own.
 * Records live in one Durable Object per principal; a query across
 * principals asks each and merges.
 */
import { knownPrincipals } from "../auth/authenticate";
import type { Caller } from "../auth/tokens";
import { base64urlText, fromBase64urlText } from "../base64url";
import type { Env, TokenTableSetting } from "../config";
import { VerdictSchema } from "../guard/enums";
import type { AuditCursor, AuditQuery, AuditRecord } from "../state/audit-log";
import { auditLogOf } from "../state/bindings";
import { jsonError } from "../http";

const MAX_LIMIT = 500;

type Filter = Omit<AuditQuery, "principal" | "cursor" | "limit">;

/** `tokens` names every principal an admin may read (see knownPrincipals). */
export async function handleAuditApi(
	request: Request,
	env: Pick<Env, "AUDIT_LOG"> & { OAUTH_KV?: KVNamespace },
	tokens: TokenTableSetting,
	caller: Caller,
): Promise<Response> {
	if (request.method !== "GET") return jsonError(405, "method_not_allowed", "Use GET.");
	const url = new URL(request.url);
	const rest = url.pathname.replace(/\/+$/, "").split("/").slice(3); // after /api/audit
	const isAdmin = caller.role === "admin";

	if (rest.length === 1) {
		const requestId = decodeURIComponent(rest[0]);
		if (requestId.length > 200) return jsonError(400, "invalid_request_id", "That is not a request id.");
		const principals = isAdmin ? await knownPrincipals(tokens, env.OAUTH_KV) : [caller.principal];
		const found = (await Promise.all(principals.map((p) => auditLogOf(env, p).byRequestId(requestId)))).flat();
		if (found.length === 0) return jsonError(404, "not_found", `No decision with request_id ${requestId} that you may read.`);
		return Response.json({ request_id: requestId, records: found });
	}
	if (rest.length > 1) return jsonError(404, "not_found", "No such route.");

	const params = url.searchParams;
	const requested = params.get("principal") ?? undefined;
	if (!isAdmin && requested !== undefined && requested !== caller.principal) {
		return jsonError(403, "forbidden", "You may read only your own audit records.");
	}
	const principals = requested ? [requested] : isAdmin ? await knownPrincipals(tokens, env.OAUTH_KV) : [caller.principal];

	const filter: Filter = {};
	const tool = params.get("tool");
	if (tool) filter.tool = tool;
	const verdict = params.get("verdict");
	if (verdict) {
		const parsed = VerdictSchema.safeParse(verdict);
		if (!parsed.success) return jsonError(400, "invalid_verdict", "verdict must be ALLOW, DENY or DEFER.");
		filter.verdict = parsed.data;
	}
	for (const key of ["since", "until"] as const) {
		const raw = params.get(key);
		if (raw === null) continue;
		const at = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
		if (!Number.isFinite(at)) return jsonError(400, `invalid_${key}`, `${key} must be an ISO date or milliseconds since the epoch.`);
		filter[key] = at;
	}
	const rawLimit = params.get("limit");
	const limit = rawLimit === null ? 50 : Number(rawLimit);
	if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
		return jsonError(400, "invalid_limit", `limit must be 1 to ${MAX_LIMIT}.`);
	let cursor: AuditCursor | undefined;
	const rawCursor = params.get("cursor");
	if (rawCursor) {
		cursor = decodeCursor(rawCursor);
		if (!cursor) return jsonError(400, "invalid_cursor", "cursor is not one this server gave out.");
	}

	if (params.get("format") === "ndjson") return streamNdjson(env, principals, filter, cursor);
	const page = await readPage(env, principals, filter, limit, cursor);
	return Response.json({ records: page.records, next_cursor: page.next ? encodeCursor(page.next) : null });
}

/** Asks every principal's log for its next `limit` records and merges them in order. */
async function readPage(env: Pick<Env, "AUDIT_LOG">, principals: string[], filter: Filter, limit: number, cursor?: AuditCursor) {
	const lists = await Promise.all(
		principals.map((principal) => auditLogOf(env, principal).query({ ...filter, principal, limit: limit + 1, cursor })),
	);
	const merged = lists.flat().sort(compare);
	const records = merged.slice(0, limit);
	const last = records.at(-1);
	const next = merged.length > limit && last ? { at: Date.parse(last.at), principal: last.principal, seq: last.seq } : undefined;
	return { records, next };
}

function compare(a: AuditRecord, b: AuditRecord): number {
	const at = Date.parse(b.at) - Date.parse(a.at);
	if (at !== 0) return at;
	if (a.principal !== b.principal) return a.principal < b.principal ? -1 : 1;
	return b.seq - a.seq;
}

function streamNdjson(env: Pick<Env, "AUDIT_LOG">, principals: string[], filter: Filter, start?: AuditCursor): Response {
	const encoder = new TextEncoder();
	let cursor = start;
	let done = false;
	const body = new ReadableStream<Uint8Array>({
		async pull(controller) {
			if (done) return controller.close();
			const page = await readPage(env, principals, filter, MAX_LIMIT, cursor);
			if (page.records.length > 0) controller.enqueue(encoder.encode(page.records.map((r) => JSON.stringify(r)).join("\n") + "\n"));
			cursor = page.next;
			done = !page.next;
		},
	});
	return new Response(body, { headers: { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" } });
}

function encodeCursor(c: AuditCursor): string {
	return base64urlText(JSON.stringify([c.at, c.principal, c.seq]));
}

function decodeCursor(raw: string): AuditCursor | undefined {
	try {
		const [at, principal, seq] = JSON.parse(fromBase64urlText(raw) ?? "");
		if (Number.isInteger(at) && typeof principal === "string" && Number.isInteger(seq)) return { at, principal, seq };
	} catch {}
	return undefined;
}
