/**
 * One principal's limits across all of its sessions, in a Durable Object per
 * principal (so there is no global hot spot): the calls of the last minute,
 * and the loop attempts of the rolling window. Each method is one synchronous
 * run of SQL, so concurrent calls from many sessions are counted exactly.
 */
import { DurableObject } from "cloudflare:workers";
import type { Admission } from "../guard/budgets";

export interface BudgetEnv {
	RATE_LIMIT_PER_MINUTE?: string;
	LOOP_WINDOW_SECONDS?: string;
}

const MINUTE_MS = 60_000;

function positive(raw: string | undefined, fallback: number): number {
	const n = Number(raw);
	return raw !== undefined && Number.isInteger(n) && n > 0 ? n : fallback;
}

export class BudgetStore extends DurableObject<BudgetEnv> {
	constructor(ctx: DurableObjectState, env: BudgetEnv) {
		super(ctx, env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS calls (at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS calls_by_time ON calls (at);
			CREATE TABLE IF NOT EXISTS loop_attempts (tool TEXT NOT NULL, loop_key TEXT NOT NULL, at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS loop_attempts_by_key ON loop_attempts (tool, loop_key, at);
			CREATE INDEX IF NOT EXISTS loop_attempts_by_time ON loop_attempts (at);
		`);
	}

	/** A sliding one-minute window: exact, and it recovers as old calls age out. */
	async admitCall(): Promise<Admission> {
		const limit = positive(this.env.RATE_LIMIT_PER_MINUTE, 120);
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
		const windowMs = positive(this.env.LOOP_WINDOW_SECONDS, 3600) * 1000;
		const now = Date.now();
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM loop_attempts WHERE at <= ?", now - windowMs); // every key: nothing old piles up
		sql.exec("INSERT INTO loop_attempts (tool, loop_key, at) VALUES (?, ?, ?)", tool, key, now);
		return sql.exec<{ n: number }>("SELECT count(*) AS n FROM loop_attempts WHERE tool = ? AND loop_key = ?", tool, key).one().n;
	}
}
