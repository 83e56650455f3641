/**
 * One principal's limits across all of its sessions, in a Durable Object per
 * principal (so there is no global hot spot): the calls of the last minute,
 * the loop attempts of the rolling window, and the principal's open MCP
 * sessions (which credential opened each, so no other can use it). Each method is one synchronous
 * run of SQL, so concurrent calls from many sessions are counted exactly.
 */
import { DurableObject } from "cloudflare:workers";
import { type BudgetsConfig, readConfig, type VariableEnv } from "../config";
import type { Admission } from "../guard/budgets";

const MINUTE_MS = 60_000;
/** A session unused this long no longer counts as open (clients rarely close theirs). */
export const SESSION_IDLE_MS = 60 * MINUTE_MS;
/** A session unused this long is forgotten: its id is refused from then on. */
const SESSION_FORGOTTEN_MS = 7 * 24 * 60 * MINUTE_MS;

export type SessionAdmission =
	| { ok: true }
	| { ok: false; reason: "sessions"; limit: number }
	| { ok: false; reason: "rate"; limit: number; retryAfterSeconds: number };

export interface SessionKey {
	id: string;
	/** The credential that opened it (token hash, or `loopback`). */
	credential: string;
	transport: "streamable-http" | "sse";
}

export class BudgetStore extends DurableObject<VariableEnv> {
	readonly #limits: BudgetsConfig;

	constructor(ctx: DurableObjectState, env: VariableEnv) {
		super(ctx, env);
		this.#limits = readConfig(env).budgets;
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS calls (at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS calls_by_time ON calls (at);
			CREATE TABLE IF NOT EXISTS loop_attempts (tool TEXT NOT NULL, loop_key TEXT NOT NULL, at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS loop_attempts_by_key ON loop_attempts (tool, loop_key, at);
			CREATE INDEX IF NOT EXISTS loop_attempts_by_time ON loop_attempts (at);
			CREATE TABLE IF NOT EXISTS sessions (
				id TEXT NOT NULL, credential TEXT NOT NULL, transport TEXT NOT NULL,
				opened_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, closed_at INTEGER,
				PRIMARY KEY (transport, id)
			);
			CREATE INDEX IF NOT EXISTS sessions_by_use ON sessions (last_seen);
		`);
	}

	/** A sliding one-minute window: exact, and it recovers as old calls age out. */
	async admitCall(): Promise<Admission> {
		const limit = this.#limits.callsPerMinute;
		const now = Date.now();
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM calls WHERE at <= ?", now - MINUTE_MS);
		const { n, oldest } = sql.exec<{ n: number; oldest: number | null }>("SELECT count(*) AS n, min(at) AS oldest FROM calls").one();
		if (n >= limit) {
			return { ok: false, limit, retryAfterSeconds: Math.max(1, Math.ceil(((oldest ?? now) + MINUTE_MS - now) / 1000)) };
		}
		sql.exec("INSERT INTO calls (at) VALUES (?)", now);
		return { ok: true };
	}

	async reserveLoopAttempt(tool: string, key: string): Promise<number> {
		const windowMs = this.#limits.loopWindowMs;
		const now = Date.now();
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM loop_attempts WHERE at <= ?", now - windowMs); // every key: nothing old piles up
		sql.exec("INSERT INTO loop_attempts (tool, loop_key, at) VALUES (?, ?, ?)", tool, key, now);
		return sql.exec<{ n: number }>("SELECT count(*) AS n FROM loop_attempts WHERE tool = ? AND loop_key = ?", tool, key).one().n;
	}

	/**
	 * Admits a new session: at most `maxOpen` open ones (not closed, used within
	 * SESSION_IDLE_MS), and opening one counts as a call against the rate limit.
	 */
	async openSession(session: SessionKey, maxOpen: number): Promise<SessionAdmission> {
		const now = Date.now();
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM sessions WHERE last_seen <= ? OR closed_at <= ?", now - SESSION_FORGOTTEN_MS, now - SESSION_IDLE_MS);
		const open = sql
			.exec<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE closed_at IS NULL AND last_seen > ?", now - SESSION_IDLE_MS)
			.one().n;
		if (open >= maxOpen) return { ok: false, reason: "sessions", limit: maxOpen };
		const admission = await this.admitCall();
		if (!admission.ok) return { ok: false, reason: "rate", limit: admission.limit, retryAfterSeconds: admission.retryAfterSeconds };
		sql.exec(
			"INSERT OR REPLACE INTO sessions (id, credential, transport, opened_at, last_seen, closed_at) VALUES (?, ?, ?, ?, ?, NULL)",
			session.id,
			session.credential,
			session.transport,
			now,
			now,
		);
		return { ok: true };
	}

	/**
	 * True only for an open session this credential opened. Its use is written
	 * at most once a minute (a read otherwise: this runs on every MCP request).
	 */
	async useSession(session: SessionKey): Promise<boolean> {
		const now = Date.now();
		const sql = this.ctx.storage.sql;
		const row = sql
			.exec<{ last_seen: number }>(
				"SELECT last_seen FROM sessions WHERE transport = ? AND id = ? AND credential = ? AND closed_at IS NULL AND last_seen > ?",
				session.transport,
				session.id,
				session.credential,
				now - SESSION_FORGOTTEN_MS,
			)
			.toArray()[0];
		if (!row) return false;
		if (row.last_seen < now - MINUTE_MS) {
			sql.exec("UPDATE sessions SET last_seen = ? WHERE transport = ? AND id = ?", now, session.transport, session.id);
		}
		return true;
	}

	/** Closes a session of this credential (DELETE, or its SSE stream ended); it stops counting. */
	async closeSession(session: SessionKey): Promise<void> {
		this.ctx.storage.sql.exec(
			"UPDATE sessions SET closed_at = ? WHERE transport = ? AND id = ? AND credential = ? AND closed_at IS NULL",
			Date.now(),
			session.transport,
			session.id,
			session.credential,
		);
	}
}
