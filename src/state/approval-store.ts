/**
 * Approvals, in their own Durable Object (SQLite): they outlive the MCP
 * session that asked, and the person who grants them works on another
 * channel. One object holds them all, so "use once" is a single atomic
 * statement and pending requests can be listed in one place.
 *
 * Arguments are stored redacted (as in the audit trail); the hash they are
 * bound to is the hash of the real arguments. No principal can bury the list:
 * each may have at most MAX_PENDING_APPROVALS_PER_PRINCIPAL pending requests
 * (one more expires its oldest), the list is paged, and its items carry
 * arguments cut to LIST_ARGUMENT_CHARS per string.
 */
import { DurableObject } from "cloudflare:workers";
import type { ApprovalRequest, ApprovalTicket, ConsumeResult } from "../guard/approvals";
import { redactSecrets } from "../guard/audit";
import type { JsonObject, JsonValue } from "./json";
import { RetentionAlarm, retentionCutoff } from "./retention";

export type ApprovalStatus = "pending" | "approved" | "rejected" | "used" | "expired";

export interface ApprovalRecord {
	id: string;
	status: ApprovalStatus;
	principal: string;
	role: string;
	tool: string;
	/** Redacted; in a list, each string cut to LIST_ARGUMENT_CHARS (then `arguments_truncated`). */
	arguments: JsonObject;
	arguments_truncated: boolean;
	/** SHA-256 of the real (unredacted) canonical arguments: what an approval is bound to. */
	arguments_sha256: string;
	kind: ApprovalRequest["kind"];
	verdict: string;
	decision: string;
	reason: string;
	request_id: string;
	policy_version: string;
	/** What the authority said besides its verdict, for the person deciding. */
	risk_score: number | null;
	high_risk: boolean;
	issues: { code: string; severity: string; message: string }[];
	questions: string[];
	guardrails: string[];
	created_at: string;
	expires_at: string;
	decided_by: string | null;
	decided_at: string | null;
	note: string | null;
	used_at: string | null;
	history: { action: string; actor: string; at: string; note: string | null }[];
}

export type DecideResult = { ok: true; approval: ApprovalRecord } | { ok: false; status: 403 | 404 | 409; error: string; message: string };

/** A position in the list (newest first): the created_at and id of the last item seen. */
export interface ListPosition {
	created_at: number;
	id: string;
}

export interface ApprovalPage {
	approvals: ApprovalRecord[];
	/** Where the next page starts, or null on the last page. */
	next: ListPosition | null;
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 200;
/** Strings in listed arguments are cut to this many characters, then "…". */
export const LIST_ARGUMENT_CHARS = 200;
export const DEFAULT_MAX_PENDING_PER_PRINCIPAL = 20;

/** A row of the approvals table, as its schema (below) stores it. */
type ApprovalRow = {
	id: string;
	status: string;
	principal: string;
	role: string;
	tool: string;
	/** JSON of the redacted arguments. */
	arguments: string;
	arguments_sha256: string;
	kind: string;
	verdict: string;
	decision: string;
	reason: string;
	request_id: string;
	policy_version: string;
	created_at: number;
	expires_at: number;
	decided_by: string | null;
	decided_at: number | null;
	note: string | null;
	used_at: number | null;
	/** JSON of what the authority said besides its verdict (a later column: null in older rows). */
	details: string | null;
};

type EventRow = { action: string; actor: string; at: number; note: string | null };

type ApprovalEnv = { APPROVAL_TTL_SECONDS?: string; AUDIT_RETENTION_DAYS?: string; MAX_PENDING_APPROVALS_PER_PRINCIPAL?: string };

/** Every string over `max` characters cut to `max` plus "…"; says whether anything was cut. */
function truncateStrings(value: JsonValue, max: number): { value: JsonValue; truncated: boolean } {
	if (typeof value === "string") {
		return value.length > max
			? {
					value: `${Array.from(value.slice(0, max * 2))
						.slice(0, max)
						.join("")}…`,
					truncated: true,
				}
			: { value, truncated: false };
	}
	if (Array.isArray(value)) {
		const items = value.map((v) => truncateStrings(v, max));
		return { value: items.map((i) => i.value), truncated: items.some((i) => i.truncated) };
	}
	if (value && typeof value === "object") {
		const entries = Object.entries(value).map(([k, v]) => [k, truncateStrings(v, max)] as const);
		return { value: Object.fromEntries(entries.map(([k, i]) => [k, i.value])), truncated: entries.some(([, i]) => i.truncated) };
	}
	return { value, truncated: false };
}

export class ApprovalStore extends DurableObject<ApprovalEnv> {
	readonly #retention: RetentionAlarm;

	constructor(ctx: DurableObjectState, env: ApprovalEnv) {
		super(ctx, env);
		this.#retention = new RetentionAlarm(ctx.storage);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS approvals (
				id TEXT PRIMARY KEY,
				status TEXT NOT NULL,
				principal TEXT NOT NULL,
				role TEXT NOT NULL,
				tool TEXT NOT NULL,
				arguments TEXT NOT NULL,
				arguments_sha256 TEXT NOT NULL,
				kind TEXT NOT NULL,
				verdict TEXT NOT NULL,
				decision TEXT NOT NULL,
				reason TEXT NOT NULL,
				request_id TEXT NOT NULL,
				policy_version TEXT NOT NULL,
				created_at INTEGER NOT NULL,
				expires_at INTEGER NOT NULL,
				decided_by TEXT,
				decided_at INTEGER,
				note TEXT,
				used_at INTEGER
			);
			CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, created_at);
			CREATE INDEX IF NOT EXISTS approvals_by_time ON approvals (created_at, id);
			CREATE INDEX IF NOT EXISTS approvals_by_principal ON approvals (principal, status, expires_at);
			CREATE TABLE IF NOT EXISTS approval_events (
				approval_id TEXT NOT NULL,
				action TEXT NOT NULL,
				actor TEXT NOT NULL,
				at INTEGER NOT NULL,
				note TEXT
			);
			CREATE INDEX IF NOT EXISTS approval_events_by_id ON approval_events (approval_id, at);
		`);
		// Added later: risk, issues and questions (JSON), so approvers see what the authority asked.
		const columns = ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('approvals')").toArray();
		if (!columns.some((c) => c.name === "details")) ctx.storage.sql.exec("ALTER TABLE approvals ADD COLUMN details TEXT");
	}

	#ttlMs(): number {
		const n = Number(this.env.APPROVAL_TTL_SECONDS ?? 900);
		return (Number.isInteger(n) && n > 0 && n <= 7 * 24 * 3600 ? n : 900) * 1000;
	}

	#maxPending(): number {
		const n = Number(this.env.MAX_PENDING_APPROVALS_PER_PRINCIPAL ?? DEFAULT_MAX_PENDING_PER_PRINCIPAL);
		return Number.isInteger(n) && n > 0 && n <= 10_000 ? n : DEFAULT_MAX_PENDING_PER_PRINCIPAL;
	}

	#event(id: string, action: string, actor: string, at: number, note: string | null = null) {
		this.ctx.storage.sql.exec("INSERT INTO approval_events VALUES (?, ?, ?, ?, ?)", id, action, actor, at, note);
	}

	async open(request: ApprovalRequest, origin: string): Promise<ApprovalTicket> {
		const id = crypto.randomUUID();
		const now = Date.now();
		const expires = now + this.#ttlMs();
		const d = request.decision;
		const sql = this.ctx.storage.sql;
		// Make room first: the principal's oldest pending requests expire now, so
		// one principal can never hold more than the cap (nor bury everyone else's).
		const limit = this.#maxPending();
		const superseded = sql
			.exec<{ id: string }>(
				`SELECT id FROM approvals WHERE principal = ? AND status = 'pending' AND expires_at > ?
				 ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?`,
				request.principal,
				now,
				limit - 1,
			)
			.toArray()
			.map((row) => row.id);
		for (const old of superseded) {
			sql.exec("UPDATE approvals SET expires_at = ? WHERE id = ?", now, old);
			this.#event(
				old,
				"expired",
				"edge-guard",
				now,
				`more than ${limit} pending requests of ${request.principal} (MAX_PENDING_APPROVALS_PER_PRINCIPAL)`,
			);
		}
		sql.exec(
			`INSERT INTO approvals (id, status, principal, role, tool, arguments, arguments_sha256, kind, verdict, decision,
			   reason, request_id, policy_version, created_at, expires_at, details)
			 VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id,
			request.principal,
			request.role,
			request.tool,
			// Redacted, as in the audit trail; the hash stays that of the real arguments.
			JSON.stringify(redactSecrets(request.args)),
			request.argsHash,
			request.kind,
			d.verdict,
			d.decision,
			d.reason,
			d.request_id,
			d.policy_version,
			now,
			expires,
			JSON.stringify({
				risk_score: d.risk_score,
				high_risk: d.high_risk,
				issues: d.issues,
				questions: d.questions,
				guardrails: d.guardrails,
			}),
		);
		this.#event(id, "requested", request.principal, now);
		await this.#retention.arm();
		return {
			id,
			status: "pending",
			expires_at: new Date(expires).toISOString(),
			url: `${origin}/approvals#${id}`,
			...(superseded.length > 0 ? { superseded: { ids: superseded.reverse(), limit } } : {}),
		};
	}

	/** Approvals are kept as long as audit records (AUDIT_RETENTION_DAYS after they expire), then pruned. */
	async alarm(): Promise<void> {
		const cutoff = retentionCutoff(this.env.AUDIT_RETENTION_DAYS);
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM approval_events WHERE approval_id IN (SELECT id FROM approvals WHERE expires_at < ?)", cutoff);
		sql.exec("DELETE FROM approvals WHERE expires_at < ?", cutoff);
		await this.#retention.rearm(sql.exec<{ n: number }>("SELECT count(*) AS n FROM approvals").one().n > 0);
	}

	async get(id: string): Promise<ApprovalRecord | null> {
		const row = this.ctx.storage.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0];
		return row ? this.#toRecord(row, Date.now()) : null;
	}

	/**
	 * One page, newest first, starting after `after`. `principal` limits the
	 * list to one requester. Arguments are cut for the list (the full, redacted
	 * arguments are in `get`).
	 */
	async list(filter: { status?: ApprovalStatus; principal?: string; limit?: number; after?: ListPosition }): Promise<ApprovalPage> {
		const now = Date.now();
		const limit = Math.min(Math.max(Math.trunc(filter.limit ?? DEFAULT_LIST_LIMIT), 1), MAX_LIST_LIMIT);
		const where: string[] = [];
		const params: SqlStorageValue[] = [];
		if (filter.principal) {
			where.push("principal = ?");
			params.push(filter.principal);
		}
		// Expiry is a matter of time, not of a stored status.
		if (filter.status === "expired") {
			where.push("status IN ('pending', 'approved') AND expires_at <= ?");
			params.push(now);
		} else if (filter.status === "pending" || filter.status === "approved") {
			where.push("status = ? AND expires_at > ?");
			params.push(filter.status, now);
		} else if (filter.status) {
			where.push("status = ?");
			params.push(filter.status);
		}
		if (filter.after) {
			where.push("(created_at < ? OR (created_at = ? AND id < ?))");
			params.push(filter.after.created_at, filter.after.created_at, filter.after.id);
		}
		const sql = `SELECT * FROM approvals ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
			ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`;
		const rows = this.ctx.storage.sql.exec<ApprovalRow>(sql, ...params).toArray();
		const page = rows.slice(0, limit);
		const last = page.at(-1);
		return {
			approvals: page.map((row) => {
				const record = this.#toRecord(row, now);
				const cut = truncateStrings(record.arguments, LIST_ARGUMENT_CHARS);
				return { ...record, arguments: cut.value as JsonObject, arguments_truncated: cut.truncated };
			}),
			next: rows.length > limit && last ? { created_at: last.created_at, id: last.id } : null,
		};
	}

	/**
	 * An admin who is not the requester approves or rejects a pending request.
	 * An approval is then valid for one use within the TTL from now.
	 */
	async decide(
		id: string,
		approver: { principal: string; role: string },
		action: "approve" | "reject",
		note: string | null,
	): Promise<DecideResult> {
		const now = Date.now();
		const row = this.ctx.storage.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0];
		if (!row) return { ok: false, status: 404, error: "not_found", message: `No approval ${id}.` };
		if (approver.role !== "admin") {
			return { ok: false, status: 403, error: "forbidden", message: "Only an admin can approve or reject." };
		}
		if (approver.principal === row.principal) {
			return { ok: false, status: 403, error: "self_approval", message: "You cannot approve or reject your own request." };
		}
		const current = this.#toRecord(row, now);
		if (current.status !== "pending") {
			return { ok: false, status: 409, error: "not_pending", message: `This request is ${current.status}, not pending.` };
		}
		const status = action === "approve" ? "approved" : "rejected";
		const expires = action === "approve" ? now + this.#ttlMs() : row.expires_at;
		this.ctx.storage.sql.exec(
			"UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, note = ?, expires_at = ? WHERE id = ? AND status = 'pending'",
			status,
			approver.principal,
			now,
			note,
			expires,
			id,
		);
		this.#event(id, status, approver.principal, now, note);
		return { ok: true, approval: (await this.get(id))! };
	}

	/** Checks and uses an approval in one synchronous step: a second use finds it used. */
	async consume(id: string, expected: { principal: string; tool: string; argsHash: string }): Promise<ConsumeResult> {
		const now = Date.now();
		const row = this.ctx.storage.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0];
		if (!row) return { ok: false, reason: "no such approval" };
		const current = this.#toRecord(row, now);
		if (current.principal !== expected.principal) return { ok: false, reason: "it was requested by another principal" };
		if (current.tool !== expected.tool) return { ok: false, reason: `it is for the tool '${current.tool}'` };
		if (current.arguments_sha256 !== expected.argsHash) return { ok: false, reason: "it is for other arguments" };
		if (current.status !== "approved") return { ok: false, reason: `it is ${current.status}` };
		this.ctx.storage.sql.exec("UPDATE approvals SET status = 'used', used_at = ? WHERE id = ? AND status = 'approved'", now, id);
		this.#event(id, "used", expected.principal, now);
		return {
			ok: true,
			approval: { id, approved_by: current.decided_by!, approved_at: current.decided_at! },
		};
	}

	#toRecord(row: ApprovalRow, now: number): ApprovalRecord {
		const stored = row.status as ApprovalStatus;
		const expired = (stored === "pending" || stored === "approved") && row.expires_at <= now;
		const iso = (v: number | null) => (v === null ? null : new Date(v).toISOString());
		const history = this.ctx.storage.sql
			.exec<EventRow>("SELECT action, actor, at, note FROM approval_events WHERE approval_id = ? ORDER BY at", row.id)
			.toArray()
			.map((e) => ({ action: e.action, actor: e.actor, at: new Date(e.at).toISOString(), note: e.note }));
		const details = row.details ? (JSON.parse(row.details) as Partial<ApprovalRecord>) : {};
		return {
			id: row.id,
			status: expired ? "expired" : stored,
			principal: row.principal,
			role: row.role,
			tool: row.tool,
			arguments: JSON.parse(row.arguments) as JsonObject,
			arguments_truncated: false,
			arguments_sha256: row.arguments_sha256,
			kind: row.kind as ApprovalRecord["kind"],
			verdict: row.verdict,
			decision: row.decision,
			reason: row.reason,
			request_id: row.request_id,
			policy_version: row.policy_version,
			risk_score: details.risk_score ?? null,
			high_risk: details.high_risk ?? false,
			issues: details.issues ?? [],
			questions: details.questions ?? [],
			guardrails: details.guardrails ?? [],
			created_at: new Date(row.created_at).toISOString(),
			expires_at: new Date(row.expires_at).toISOString(),
			decided_by: row.decided_by,
			decided_at: iso(row.decided_at),
			note: row.note,
			used_at: iso(row.used_at),
			history,
		};
	}
}
