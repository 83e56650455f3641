/**
 * The approvals JSON API, for approvers and requesters (all bearer-authenticated):
 *   GET  /api/approvals?status=pending     admins: every request; others: their own
 *   GET  /api/approvals/:id                admins, or the requester
 *   POST /api/approvals/:id/approve        an admin who is not the requester, body { note? }
 *   POST /api/approvals/:id/reject         likewise
 */
import { z } from "zod";
import type { Caller } from "../auth/tokens";
import type { Env } from "../config";
import type { ApprovalRecord, DecideResult } from "../state/approval-store";
import { jsonError } from "../http";

const StatusSchema = z.enum(["pending", "approved", "rejected", "used", "expired"]);
const DecisionBodySchema = z.object({ note: z.string().max(1000, "note must be at most 1000 characters").optional() }).strict();
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;


export async function handleApprovalsApi(request: Request, env: Env, caller: Caller): Promise<Response> {
	const url = new URL(request.url);
	const parts = url.pathname.replace(/\/+$/, "").split("/").slice(3); // after /api/approvals
	const store = env.APPROVALS.get(env.APPROVALS.idFromName("global"));
	const isAdmin = caller.role === "admin";
	const visible = (a: ApprovalRecord | null) => a && (isAdmin || a.principal === caller.principal);

	if (parts.length === 0) {
		if (request.method !== "GET") return jsonError(405, "method_not_allowed", "Use GET.");
		const rawStatus = url.searchParams.get("status");
		const status = rawStatus === null ? undefined : StatusSchema.safeParse(rawStatus);
		if (status && !status.success) return jsonError(400, "invalid_status", "status must be pending, approved, rejected, used or expired.");
		const approvals = await store.list({ status: status?.data, principal: isAdmin ? undefined : caller.principal });
		return Response.json({ approvals, viewer: caller });
	}

	const [id, action, ...extra] = parts;
	if (!ID.test(id) || extra.length > 0) return jsonError(404, "not_found", "No such approval.");

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
			return jsonError(400, "invalid_json", "The body must be JSON, e.g. {\"note\": \"looks fine\"}.");
		}
	}
	const parsed = DecisionBodySchema.safeParse(body);
	if (!parsed.success) return jsonError(400, "invalid_body", parsed.error.issues[0].message);
	const note = parsed.data.note?.trim() || null;
	// Non-admins learn nothing about other people's requests.
	if (!isAdmin && !visible(await store.get(id))) return jsonError(404, "not_found", `No approval ${id}.`);
	const result = (await store.decide(id, caller, action, note)) as DecideResult;
	if (!result.ok) return jsonError(result.status, result.error, result.message);
	return Response.json({ approval: result.approval });
}
