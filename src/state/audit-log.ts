/**
 * The audit trail of one principal, in a Durable Object per principal
 * (SQLite), so writes spread across objects. Sessions write each decision
 * ahead into their own storage and ship final records here in batches (see
 * agent/audit-outbox.ts). Records are pruned after AUDIT_RETENTION_DAYS by an
 * alarm.
 */
import { DurableObject } from "cloudflare:workers";
import { readConfig, type VariableEnv } from "../config";
import type { AuditEntry } from "../guard/audit";
import type { JsonObject } from "./json";
import { RetentionAlarm } from "./retention";

export interface AuditRecord extends Omit<AuditEntry, "at" | "arguments" | "approval_id" | "mode" | "would_block"> {
	seq: number;
	at: string;
	arguments: JsonObject | null;
	approval_id: string | null;
	error: string | null;
	completed_at: string | null;
	/** Shadow mode only (absent in enforce mode): the call ran regardless; would enforce mode have blocked it? */
	mode?: "shadow";
	would_block?: boolean;
}

/** A final record, as a session's outbox ships it. */
export interface ShippedRecord {
	entry: AuditEntry;
	outcome: AuditEntry["outcome"];
	error: string | null;
	completed_at: number | null;
}

/** Records are ordered newest first; ties broken by principal, then sequence. */
export interface AuditCursor {
	at: number;
	principal: string;
	seq: number;
}

export interface AuditQuery {
	principal: string;
	tool?: string;
	verdict?: string;
	since?: number;
	until?: number;
	limit: number;
	cursor?: AuditCursor;
}

/** A row of the records table, as its schema (below) stores it. */
type RecordRow = {
	seq: number;
	at: number;
	request_id: string;
	policy_version: string;
	source: string;
	principal: string;
	role: string;
	session_id: string;
	tool: string;
	args_sha256: string;
	/** JSON of the redacted arguments, when AUDIT_STORE_ARGUMENTS is on. */
	arguments: string | null;
	verdict: string;
	decision: string;
	reason: string;
	risk_score: number | null;
	latency_ms: number;
	outcome: string;
	error: string | null;
	approval_id: string | null;
	completed_at: number | null;
	/** Later columns: null in rows written before them. */
	local_policy: string | null;
	would_block: number | null;
};

export class AuditLog extends DurableObject<VariableEnv> {
	readonly #retention: RetentionAlarm;
	readonly #retentionMs: number;

	constructor(ctx: DurableObjectState, env: VariableEnv) {
		super(ctx, env);
		this.#retentionMs = readConfig(env).audit.retentionMs;
		this.#retention = new RetentionAlarm(ctx.storage);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS records (
				seq INTEGER PRIMARY KEY AUTOINCREMENT,
				at INTEGER NOT NULL,
				request_id TEXT NOT NULL,
				policy_version TEXT NOT NULL,
				source TEXT NOT NULL,
				principal TEXT NOT NULL,
				role TEXT NOT NULL,
				session_id TEXT NOT NULL,
				tool TEXT NOT NULL,
				args_sha256 TEXT NOT NULL,
				arguments TEXT,
				verdict TEXT NOT NULL,
				decision TEXT NOT NULL,
				reason TEXT NOT NULL,
				risk_score REAL,
				latency_ms INTEGER NOT NULL,
				outcome TEXT NOT NULL,
				error TEXT,
				approval_id TEXT,
				completed_at INTEGER
			);
			CREATE INDEX IF NOT EXISTS records_by_time ON records (at, seq);
			CREATE INDEX IF NOT EXISTS records_by_request ON records (request_id);
			CREATE UNIQUE INDEX IF NOT EXISTS records_once ON records (session_id, request_id, at);
		`);
		// Columns added after the first release: logs created before get them (older rows read as "unknown" / enforce mode).
		const columns = ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('records')").toArray();
		// The Cedar policy layer: the id of the local policy set in force.
		if (!columns.some((c) => c.name === "local_policy")) ctx.storage.sql.exec("ALTER TABLE records ADD COLUMN local_policy TEXT");
		// Shadow mode: 1 or 0 for a call that ran in shadow mode, NULL in enforce mode.
		if (!columns.some((c) => c.name === "would_block")) ctx.storage.sql.exec("ALTER TABLE records ADD COLUMN would_block INTEGER");
	}

	/**
	 * Final records shipped from a session's write-ahead outbox, in one call.
	 * Idempotent per (session, request_id, time), so a shipment retried after a
	 * lost answer does not record a decision twice.
	 */
	async recordBatch(records: ShippedRecord[]): Promise<void> {
		const sql = this.ctx.storage.sql;
		for (const { entry, outcome, error, completed_at } of records) {
			sql.exec(
				`INSERT INTO records (at, request_id, policy_version, source, principal, role, session_id, tool, args_sha256,
				   arguments, verdict, decision, reason, risk_score, latency_ms, outcome, error, approval_id, completed_at, local_policy, would_block)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				 ON CONFLICT (session_id, request_id, at) DO NOTHING`,
				entry.at,
				entry.request_id,
				entry.policy_version,
				entry.source,
				entry.principal,
				entry.role,
				entry.session_id,
				entry.tool,
				entry.args_sha256,
				entry.arguments === undefined ? null : JSON.stringify(entry.arguments),
				entry.verdict,
				entry.decision,
				entry.reason,
				entry.risk_score,
				Math.round(entry.latency_ms),
				outcome,
				error,
				entry.approval_id ?? null,
				completed_at,
				entry.local_policy ?? null,
				entry.would_block === undefined ? null : entry.would_block ? 1 : 0,
			);
		}
		await this.#retention.arm();
	}

	async query(q: AuditQuery): Promise<AuditRecord[]> {
		const where: string[] = [];
		const params: SqlStorageValue[] = [];
		const condition = (clause: string, ...values: SqlStorageValue[]) => {
			where.push(clause);
			params.push(...values);
		};
		if (q.tool) condition("tool = ?", q.tool);
		if (q.verdict) condition("verdict = ?", q.verdict);
		if (q.since !== undefined) condition("at >= ?", q.since);
		if (q.until !== undefined) condition("at <= ?", q.until);
		if (q.cursor) {
			// Continue strictly after the cursor in (at DESC, principal ASC, seq DESC) order.
			const c = q.cursor;
			if (q.principal > c.principal) condition("at <= ?", c.at);
			else if (q.principal < c.principal) condition("at < ?", c.at);
			else condition("(at < ? OR (at = ? AND seq < ?))", c.at, c.at, c.seq);
		}
		const limit = Math.min(Math.max(Math.trunc(q.limit), 1), 1000);
		return this.ctx.storage.sql
			.exec<RecordRow>(
				`SELECT * FROM records ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, seq DESC LIMIT ${limit}`,
				...params,
			)
			.toArray()
			.map(toRecord);
	}

	async byRequestId(requestId: string): Promise<AuditRecord[]> {
		return this.ctx.storage.sql
			.exec<RecordRow>("SELECT * FROM records WHERE request_id = ? ORDER BY seq", requestId)
			.toArray()
			.map(toRecord);
	}

	/** Retention: drop what is older than AUDIT_RETENTION_DAYS; come back tomorrow while anything is left. */
	override async alarm(): Promise<void> {
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM records WHERE at < ?", Date.now() - this.#retentionMs);
		await this.#retention.rearm(sql.exec<{ n: number }>("SELECT count(*) AS n FROM records").one().n > 0);
	}
}

function toRecord(row: RecordRow): AuditRecord {
	return {
		seq: row.seq,
		at: new Date(row.at).toISOString(),
		request_id: row.request_id,
		policy_version: row.policy_version,
		source: row.source as AuditRecord["source"],
		principal: row.principal,
		role: row.role,
		session_id: row.session_id,
		tool: row.tool,
		args_sha256: row.args_sha256,
		arguments: row.arguments === null ? null : (JSON.parse(row.arguments) as JsonObject),
		verdict: row.verdict as AuditRecord["verdict"],
		decision: row.decision as AuditRecord["decision"],
		reason: row.reason,
		risk_score: row.risk_score,
		latency_ms: row.latency_ms,
		outcome: row.outcome as AuditRecord["outcome"],
		error: row.error,
		approval_id: row.approval_id,
		completed_at: row.completed_at === null ? null : new Date(row.completed_at).toISOString(),
		local_policy: row.local_policy ?? "unknown",
		...(row.would_block === null ? {} : { mode: "shadow" as const, would_block: row.would_block === 1 }),
	};
}
