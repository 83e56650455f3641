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
import { type ApprovalsConfig, readConfig, type VariableEnv } from "../config";
import type { ApprovalRequest, ApprovalTicket, ConsumeResult } from "../guard/approvals";
import { redactSecrets } from "../guard/audit";
import type { ApprovalKind, ApprovalStatus } from "../guard/enums";
import { assertNever, err, ok, type Result } from "../guard/result";
import type { JsonObject, JsonValue } from "./json";
import { RetentionAlarm } from "./retention";

/** Everything a record says besides where it is in its life. */
interface ApprovalDetails {
	id: string;
	principal: string;
	role: string;
	tool: string;
	/** Redacted; in a list, each string cut to LIST_ARGUMENT_CHARS (then `arguments_truncated`). */
	arguments: JsonObject;
	arguments_truncated: boolean;
	/** SHA-256 of the real (unredacted) canonical arguments: what an approval is bound to. */
	arguments_sha256: string;
	kind: ApprovalKind;
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
	/** The approver's note, when it gave one. */
	note: string | null;
	history: { action: string; actor: string; at: string; note: string | null }[];
}

/** Who decided a request, and when: always both, or neither. */
interface Decided {
	decided_by: string;
	decided_at: string;
}
interface Undecided {
	decided_by: null;
	decided_at: null;
}

/**
 * Where a request is in its life, with the facts that status always has: an
 * approved, rejected or used request says who decided and when, a used one
 * when it was used; a pending one has neither. An expired one was pending or
 * approved when its time ran out.
 */
export type ApprovalLife =
	| ({ status: "pending"; used_at: null } & Undecided)
	| ({ status: "approved" | "rejected"; used_at: null } & Decided)
	| ({ status: "used"; used_at: string } & Decided)
	| ({ status: "expired"; used_at: null } & (Decided | Undecided));

export type ApprovalRecord = ApprovalDetails & ApprovalLife;

/** Why a request could not be decided, as the API answers it. */
export interface DecideRefusal {
	status: 403 | 404 | 409;
	code: string;
	message: string;
}

export type DecideResult = Result<ApprovalRecord, DecideRefusal>;

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

export class ApprovalStore extends DurableObject<VariableEnv> {
	readonly #retention: RetentionAlarm;
	readonly #settings: ApprovalsConfig;
	/** Approvals are kept this long after they expire (AUDIT_RETENTION_DAYS, as audit records). */
	readonly #retentionMs: number;

	constructor(ctx: DurableObjectState, env: VariableEnv) {
		super(ctx, env);
		const config = readConfig(env);
		this.#settings = config.approvals;
		this.#retentionMs = config.audit.retentionMs;
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

	#event(id: string, action: string, actor: string, at: number, note: string | null = null) {
		this.ctx.storage.sql.exec("INSERT INTO approval_events VALUES (?, ?, ?, ?, ?)", id, action, actor, at, note);
	}

	async open(request: ApprovalRequest, origin: string): Promise<ApprovalTicket> {
		const id = crypto.randomUUID();
		const now = Date.now();
		const expires = now + this.#settings.ttlMs;
		const d = request.decision;
		const sql = this.ctx.storage.sql;
		// Make room first: the principal's oldest pending requests expire now, so
		// one principal can never hold more than the cap (nor bury everyone else's).
		const limit = this.#settings.maxPendingPerPrincipal;
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
	override async alarm(): Promise<void> {
		const cutoff = Date.now() - this.#retentionMs;
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
		if (!row) return err({ status: 404, code: "not_found", message: `No approval ${id}.` });
		if (approver.role !== "admin") {
			return err({ status: 403, code: "forbidden", message: "Only an admin can approve or reject." });
		}
		if (approver.principal === row.principal) {
			return err({ status: 403, code: "self_approval", message: "You cannot approve or reject your own request." });
		}
		const current = this.#toRecord(row, now);
		if (current.status !== "pending") {
			return err({ status: 409, code: "not_pending", message: `This request is ${current.status}, not pending.` });
		}
		const status = action === "approve" ? "approved" : "rejected";
		const expires = action === "approve" ? now + this.#settings.ttlMs : row.expires_at;
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
		return ok(this.#toRecord(this.ctx.storage.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).one(), now));
	}

	/** Checks and uses an approval in one synchronous step: a second use finds it used. */
	async consume(id: string, expected: { principal: string; tool: string; argsHash: string }): Promise<ConsumeResult> {
		const now = Date.now();
		const row = this.ctx.storage.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0];
		if (!row) return err("no such approval");
		const current = this.#toRecord(row, now);
		if (current.principal !== expected.principal) return err("it was requested by another principal");
		if (current.tool !== expected.tool) return err(`it is for the tool '${current.tool}'`);
		if (current.arguments_sha256 !== expected.argsHash) return err("it is for other arguments");
		if (current.status !== "approved") return err(`it is ${current.status}`);
		this.ctx.storage.sql.exec("UPDATE approvals SET status = 'used', used_at = ? WHERE id = ? AND status = 'approved'", now, id);
		this.#event(id, "used", expected.principal, now);
		return ok({ id, approved_by: current.decided_by, approved_at: current.decided_at });
	}

	#toRecord(row: ApprovalRow, now: number): ApprovalRecord {
		const stored = row.status as Exclude<ApprovalStatus, "expired">;
		const expired = (stored === "pending" || stored === "approved") && row.expires_at <= now;
		const iso = (v: number | null) => (v === null ? null : new Date(v).toISOString());
		const decidedBy = row.decided_by;
		const decidedAt = iso(row.decided_at);
		const undecided: Undecided = { decided_by: null, decided_at: null };
		/** A decided request's who and when; a row without them was not written by this store, and is refused. */
		const decided = (): Decided => {
			if (decidedBy === null || decidedAt === null) throw new Error(`approval ${row.id} is ${stored} but says nobody decided it`);
			return { decided_by: decidedBy, decided_at: decidedAt };
		};
		const life = (): ApprovalLife => {
			if (expired) return { status: "expired", used_at: null, ...(decidedBy === null ? undecided : decided()) };
			switch (stored) {
				case "pending":
					return { status: "pending", used_at: null, ...undecided };
				case "approved":
				case "rejected":
					return { status: stored, used_at: null, ...decided() };
				case "used": {
					const usedAt = iso(row.used_at);
					if (usedAt === null) throw new Error(`approval ${row.id} is used but says not when`);
					return { status: "used", used_at: usedAt, ...decided() };
				}
				default:
					return assertNever(stored);
			}
		};
		const history = this.ctx.storage.sql
			.exec<EventRow>("SELECT action, actor, at, note FROM approval_events WHERE approval_id = ? ORDER BY at", row.id)
			.toArray()
			.map((e) => ({ action: e.action, actor: e.actor, at: new Date(e.at).toISOString(), note: e.note }));
		const details = row.details ? (JSON.parse(row.details) as Partial<ApprovalRecord>) : {};
		return {
			id: row.id,
			...life(),
			principal: row.principal,
			role: row.role,
			tool: row.tool,
			arguments: JSON.parse(row.arguments) as JsonObject,
			arguments_truncated: false,
			arguments_sha256: row.arguments_sha256,
			kind: row.kind as ApprovalKind,
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
			note: row.note,
			history,
		};
	}
}
