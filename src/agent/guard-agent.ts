/**
 * The MCP session: one Durable Object per session, serving the guarded tools.
 *
 * It owns one piece of state, the session's loop counters. Everything else
 * (what to ask, whom to ask, what to do with the answer) is in the guard core.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpAgent } from "agents/mcp";
import type { Role } from "../auth/tokens";
import { type Env, readConfig } from "../config";
import type { ApprovalDesk } from "../guard/approvals";
import type { AuditTrail } from "../guard/audit";
import { AuditOutbox } from "./audit-outbox";
import type { PrincipalBudget } from "../guard/budgets";
import { createAuthority } from "../guard/authority";
import { roleMayEverUse } from "../guard/local-rules";
import type { GuardDeps, LoopCounter } from "../guard/pipeline";
import { readGatewayConfig } from "../gateway/config";
import { startSessionGateway } from "../gateway/session";
import { SERVER_INFO } from "../server-info";
import { TOOLS } from "../tools/definitions";
import { registerAuditLogTool } from "../tools/audit-log";
import { registerGuardedTools } from "../tools/register";

/** Set by the Worker entry from the authenticated request; fixed for the session. */
export type SessionProps = { principal: string; role: Role; origin: string };

/** A pending audit record older than this belongs to a call that cannot report back any more. */
const STALE_PENDING_MS = 5 * 60_000;

export class GuardAgent extends McpAgent<Env, unknown, SessionProps> implements LoopCounter {
	#outbox?: AuditOutbox;

	server = new McpServer(SERVER_INFO, {
		instructions:
			"Every tool here is checked by an external policy authority (Stage0) before it runs. A BLOCKED or DEFERRED result means the action did not happen; do not try to work around it. Your role comes from your credentials, not from arguments.",
	});

	async init(): Promise<void> {
		this.ctx.storage.sql.exec(
			`CREATE TABLE IF NOT EXISTS loop_attempts (
				tool TEXT NOT NULL,
				loop_key TEXT NOT NULL,
				attempts INTEGER NOT NULL,
				updated_at INTEGER NOT NULL,
				PRIMARY KEY (tool, loop_key)
			)`,
		);
		const props = this.props;
		if (!props?.principal || !props.role) {
			// Only the Worker entry creates sessions, always with props: anything
			// else is refused rather than served with a guessed identity.
			throw new Error("session has no authenticated caller");
		}
		const config = readConfig(this.env);
		const authority = createAuthority(config);
		const store = () => this.env.APPROVALS.get(this.env.APPROVALS.idFromName("global"));
		const approvals: ApprovalDesk = {
			open: (request) => store().open(request, props.origin),
			consume: (id, expected) => store().consume(id, expected),
		};
		// The principal's own objects: limits and audit trail follow it across sessions.
		const budgets = this.env.BUDGETS.get(this.env.BUDGETS.idFromName(props.principal));
		const budget: PrincipalBudget = {
			admitCall: () => budgets.admitCall(),
			reserveLoopAttempt: (tool, key) => budgets.reserveLoopAttempt(tool, key),
		};
		const auditLog = this.env.AUDIT_LOG.get(this.env.AUDIT_LOG.idFromName(props.principal));
		const outbox = new AuditOutbox({
			sql: this.ctx.storage.sql,
			ship: (records) => auditLog.recordBatch(records),
			waitUntil: (promise) => this.ctx.waitUntil(promise),
			scheduleRetry: () => {
				this.schedule(60, "shipAuditOutbox", undefined, { idempotent: true }).catch((error) =>
					console.error(`audit: could not schedule shipping: ${error instanceof Error ? error.message : error}`),
				);
			},
		});
		this.#outbox = outbox;
		// Whatever a previous run of this session left unshipped goes now.
		if (outbox.waiting() > 0) this.ctx.waitUntil(this.shipAuditOutbox(Date.now()));
		const audit: AuditTrail = {
			record: (entry) => {
				// One structured line per decision, for Workers Logs and Logpush (never the arguments).
				const { arguments: _omitted, ...line } = entry;
				console.log(JSON.stringify({ event: "guard.decision", ...line, at: new Date(entry.at).toISOString() }));
				return outbox.record(entry);
			},
			complete: (id, outcome, error) => outbox.complete(id, outcome, error),
		};
		const runtime = { principal: props.principal, role: props.role, sessionId: this.getSessionId() };
		const deps: GuardDeps = {
			authority,
			loops: this,
			maxRetries: config.maxRetries,
			runtime,
			approvals,
			budget,
			audit,
			auditArguments: config.auditArguments,
		};
		// A caller sees only the tools its role could ever be allowed to run.
		const gateway = readGatewayConfig(this.env);
		const visible = gateway.builtinTools ? TOOLS.filter((tool) => roleMayEverUse(props.role, tool.sideEffects)) : [];
		registerGuardedTools(this.server, visible, () => deps);
		// Gateway mode: the upstreams' tools, through the same registration and pipeline (src/gateway/).
		if (gateway.upstreams.length > 0) await startSessionGateway(this.server, gateway, props.role, () => deps);
		registerAuditLogTool(this.server, async (query) => {
			await outbox.settle(); // the caller's latest decisions first
			return auditLog.query({ ...query, principal: props.principal });
		});
	}

	/** The durable wake-up of the audit outbox (see AuditOutbox). */
	async shipAuditOutbox(stalePendingBefore = Date.now() - STALE_PENDING_MS): Promise<void> {
		const outbox = this.#outbox;
		if (!outbox) return;
		try {
			await outbox.shipAll(typeof stalePendingBefore === "number" ? stalePendingBefore : Date.now() - STALE_PENDING_MS);
		} catch (error) {
			console.error(`audit: shipping failed, will retry: ${error instanceof Error ? error.message : error}`);
		}
		if (outbox.waiting() > 0) await this.schedule(60, "shipAuditOutbox", undefined, { idempotent: true });
	}

	/**
	 * One synchronous upsert: nothing can interleave between the read and the
	 * write, so concurrent calls in this session each get a distinct number.
	 */
	reserveAttempt(tool: string, key: string): number {
		const row = this.ctx.storage.sql
			.exec<{ attempts: number }>(
				`INSERT INTO loop_attempts (tool, loop_key, attempts, updated_at) VALUES (?, ?, 1, ?)
				 ON CONFLICT (tool, loop_key) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at
				 RETURNING attempts`,
				tool,
				key,
				Date.now(),
			)
			.one();
		return row.attempts;
	}
}
