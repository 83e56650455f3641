/**
 * The approvals JSON API, for approvers and requesters (all bearer-authenticated):
 *   GET  /api/approvals?status=pending&limit=50&cursor=…
 *                                          admins: every request; others: their own. Newest first,
 *                                          paged ({ approvals, next_cursor, viewer }), arguments cut
 *   GET  /api/approvals/:id                admins, or the requester
 *   POST /api/approvals/:id/approve        an admin who is not the requester, body { note? }
 *   POST /api/approvals/:id/reject         likewise
 */
import { z } from "zod";
import type { Caller } from "../auth/tokens";
import type { Env } from "../config";
import { approvalStore } from "../state/bindings";
import { base64urlText, fromBase64urlText } from "../base64url";
import { APPROVAL_ID } from "../guard/approvals";
import { ApprovalStatusSchema } from "../guard/enums";
import { type ApprovalRecord, DEFAULT_LIST_LIMIT, type ListPosition, MAX_LIST_LIMIT } from "../state/approval-store";
import { jsonError } from "../http";

const DecisionBodySchema = z.object({ note: z.string().max(1000, "note must be at most 1000 characters").optional() }).strict();

/** The cursor is opaque to clients: base64url of "<created_at ms>.<id>". */
function encodeCursor(position: ListPosition): string {
	return base64urlText(`${position.created_at}.${position.id}`);
}

function decodeCursor(cursor: string): ListPosition | undefined {
	const text = fromBase64urlText(cursor);
	if (text === undefined) return undefined;
	const match = /^(\d{1,16})\.([0-9a-f-]{36})$/.exec(text);
	return match && APPROVAL_ID.test(match[2]) ? { created_at: Number(match[1]), id: match[2] } : undefined;
}

export async function handleApprovalsApi(request: Request, env: Pick<Env, "APPROVALS">, caller: Caller): Promise<Response> {
	const url = new URL(request.url);
	const parts = url.pathname.replace(/\/+$/, "").split("/").slice(3); // after /api/approvals
	const store = approvalStore(env);
	const isAdmin = caller.role === "admin";
	const visible = (a: ApprovalRecord | null) => a && (isAdmin || a.principal === caller.principal);

	if (parts.length === 0) {
		if (request.method !== "GET") return jsonError(405, "method_not_allowed", "Use GET.");
		const rawStatus = url.searchParams.get("status");
		const status = rawStatus === null ? undefined : ApprovalStatusSchema.safeParse(rawStatus);
		if (status && !status.success) return jsonError(400, "invalid_status", "status must be pending, approved, rejected, used or expired.");
		const rawLimit = url.searchParams.get("limit");
		const limit = rawLimit === null ? DEFAULT_LIST_LIMIT : /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
		if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
			return jsonError(400, "invalid_limit", `limit must be a whole number from 1 to ${MAX_LIST_LIMIT} (default ${DEFAULT_LIST_LIMIT}).`);
		}
		const rawCursor = url.searchParams.get("cursor");
		const after = rawCursor === null ? undefined : decodeCursor(rawCursor);
		if (rawCursor !== null && !after) {
			return jsonError(
				400,
				"invalid_cursor",
				"cursor is not one this server returned: use next_cursor of the previous page, or start without it.",
			);
		}
		const page = await store.list({
			status: status?.data,
			principal: isAdmin ? undefined : caller.principal,
			limit,
			after,
		});
		return Response.json({
			approvals: page.approvals,
			next_cursor: page.next ? encodeCursor(page.next) : null,
			viewer: { principal: caller.principal, role: caller.role },
		});
	}

	const [id, action, ...extra] = parts;
	if (!APPROVAL_ID.test(id) || extra.length > 0) return jsonError(404, "not_found", "No such approval.");

	if (action === undefined) {
		if (request.method !== "GET") return jsonError(405, "method_not_allowed", "Use GET.");
		const approval = await store.get(id);
		return visible(approval) ? Response.json({ approval }) : jsonError(404, "not_found", `No approval ${id}.`);
	}

	if (action !== "approve" && action !== "reject") return jsonError(404, "not_found", "Use /approve or /reject.");
	if (request.method !== "POST") return jsonError(405, "method_not_allowed", "Use POST.");
	let body: unknown = {};
	const text = await request.text();
	if (text.trim()) {
		try {
			body = JSON.parse(text);
		} catch {
			return jsonError(400, "invalid_json", 'The body must be JSON, e.g. {"note": "looks fine"}.');
		}
	}
	const parsed = DecisionBodySchema.safeParse(body);
	if (!parsed.success) return jsonError(400, "invalid_body", parsed.error.issues[0].message);
	const note = parsed.data.note?.trim() || null;
	// Non-admins learn nothing about other people's requests.
	if (!isAdmin && !visible(await store.get(id))) return jsonError(404, "not_found", `No approval ${id}.`);
	const result = await store.decide(id, caller, action, note);
	if (!result.ok) return jsonError(result.error.status, result.error.code, result.error.message);
	return Response.json({ approval: result.value });
}
