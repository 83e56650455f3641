/**
 * The approvers' browser sessions, in their own Durable Object (SQLite), one
 * for the server: who signed in, how, until when, and the session's CSRF token.
 * Keyed by the SHA-256 of the session id, so a copy of this storage holds no
 * cookie anyone could present; it never holds a bearer token either (a token
 * session keeps the token's SHA-256, as MCP_AUTH_TOKENS does).
 */
import { DurableObject } from "cloudflare:workers";

export type SignInMethod = "token" | "operator" | "oidc";

export interface StoredSession {
	/** SHA-256 hex of the session id (the cookie's value). */
	key: string;
	principal: string;
	role: string;
	method: SignInMethod;
	/** What signed in: the token's SHA-256, the approver link's SHA-256, or the provider's issuer and subject. */
	credential: string;
	csrf: string;
	created_at: number;
	expires_at: number;
}

/** One person's browser sessions at most; signing in once more ends the oldest. */
export const MAX_SESSIONS_PER_PRINCIPAL = 20;

export class BrowserSessionStore extends DurableObject<Record<string, never>> {
	constructor(ctx: DurableObjectState, env: Record<string, never>) {
		super(ctx, env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS sessions (
				key TEXT PRIMARY KEY,
				principal TEXT NOT NULL,
				role TEXT NOT NULL,
				method TEXT NOT NULL,
				credential TEXT NOT NULL,
				csrf TEXT NOT NULL,
				created_at INTEGER NOT NULL,
				expires_at INTEGER NOT NULL
			);
			CREATE INDEX IF NOT EXISTS sessions_by_principal ON sessions (principal, created_at);
			CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
		`);
	}

	async create(session: StoredSession): Promise<void> {
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM sessions WHERE expires_at <= ?", Date.now());
		sql.exec(
			`DELETE FROM sessions WHERE key IN (
			   SELECT key FROM sessions WHERE principal = ? ORDER BY created_at DESC LIMIT -1 OFFSET ?)`,
			session.principal,
			MAX_SESSIONS_PER_PRINCIPAL - 1,
		);
		sql.exec(
			"INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			session.key,
			session.principal,
			session.role,
			session.method,
			session.credential,
			session.csrf,
			session.created_at,
			session.expires_at,
		);
		if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(session.expires_at);
	}

	/** The live session of this key, or null (an expired one is deleted on the way). */
	async get(key: string): Promise<StoredSession | null> {
		const sql = this.ctx.storage.sql;
		const row = sql
			.exec<{ [K in keyof StoredSession]: StoredSession[K] extends number ? number : string }>("SELECT * FROM sessions WHERE key = ?", key)
			.toArray()[0];
		if (!row) return null;
		if (row.expires_at <= Date.now()) {
			sql.exec("DELETE FROM sessions WHERE key = ?", key);
			return null;
		}
		return { ...row, method: row.method as SignInMethod };
	}

	/** Ends a session (sign-out); true when there was one. */
	async revoke(key: string): Promise<boolean> {
		return this.ctx.storage.sql.exec("DELETE FROM sessions WHERE key = ?", key).rowsWritten > 0;
	}

	/** Expired sessions are deleted; the alarm comes back for the next one to expire. */
	override async alarm(): Promise<void> {
		const sql = this.ctx.storage.sql;
		sql.exec("DELETE FROM sessions WHERE expires_at <= ?", Date.now());
		const next = sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM sessions").one().at;
		if (next !== null) await this.ctx.storage.setAlarm(next);
	}
}
