/**
 * `guardFor`: everything the pipeline needs for the calls of one MCP session,
 * built from the Worker's bindings and the session's Durable Object. The
 * built-in server (guard-agent.ts) and a library user's own McpAgent get the
 * same checks, counters, approvals and audit trail from it:
 *   - loop counters in the session's own SQLite (one atomic upsert per attempt);
 *   - the principal's rate limit and rolling loop budget (BudgetStore);
 *   - approvals (ApprovalStore), with links to the approvers' page;
 *   - the write-ahead audit outbox in the session's SQLite, shipped to each
 *     principal's AuditLog;
 *   - Stage0 or the simulator, and the local policy, as configured by the bindings.
 * Nothing here runs on import: it all happens when guardFor is called.
 */
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { approverOf } from "../auth/operator";
import { readConfig, type VariableEnv } from "../config";
import type { ApprovalStore } from "../state/approval-store";
import type { AuditLog } from "../state/audit-log";
import type { BudgetStore } from "../state/budget-store";
import type { ApprovalDesk } from "../guard/approvals";
import { type Approver, ROLES, type Role } from "../guard/enums";
import type { AuditTrail } from "../guard/audit";
import { createAuthority } from "../guard/authority";
import type { LocalPolicy } from "../guard/local-policy";
import type { GuardDeps, LoopCounter } from "../guard/pipeline";
import { localPolicyFor } from "../policy/workerd";
import { approvalStore, auditLogOf, budgetOf } from "../state/bindings";
import type { AuditQuery, AuditRecord, ShippedRecord } from "../state/audit-log";
import type { MessageExtra, ToolGuard } from "../tools/register";
import { AuditOutbox } from "./audit-outbox";

/**
 * The bindings the guard uses: its three Durable Objects (required) and its variables (all optional,
 * with defaults). Written out rather than taken from the generated Env: a library user's Worker has
 * its own generated Env, and this is the contract between the two.
 */
export type GuardEnv = {
	APPROVALS: DurableObjectNamespace<ApprovalStore>;
	BUDGETS: DurableObjectNamespace<BudgetStore>;
	AUDIT_LOG: DurableObjectNamespace<AuditLog>;
	OAUTH_KV?: KVNamespace;
} & VariableEnv;

/** Who is calling, as the Worker authenticated it (never what the agent says). */
export interface GuardCaller {
	principal: string;
	role: Role;
	/** The caller's groups, when its identity has any (the local policy reads them). */
	groups?: readonly string[];
	/** The origin approval links are built on; default PUBLIC_URL's, else relative links. */
	approvalsOrigin?: string;
}

/**
 * The caller of every call: one fixed caller (e.g. the session's props), or a
 * function of each message (re-resolved per request). Undefined, a caller
 * without principal or with an unknown role: nothing runs.
 */
export type CallerSource = GuardCaller | ((extra: MessageExtra) => GuardCaller | undefined) | undefined;

export interface GuardOptions {
	/** The session's id: Stage0's run_id and the audit records' session_id. Default: the Durable Object's id. */
	sessionId?: string;
	/** Who can grant approvals, for the refusal's words. Default: admins with MCP_AUTH_TOKENS, else the operator link, else nobody. */
	approver?: Approver;
	/**
	 * Asks for a durable wake-up that calls `guard.shipAuditOutbox()` (an Agent's
	 * `this.schedule(60, "…", undefined, { idempotent: true })`); it is asked
	 * again only after that wake-up ran, or if the promise returned here
	 * rejects. Without it, an audit shipment that failed is retried at the next
	 * call and the next start of the session.
	 */
	scheduleRetry?: () => unknown;
}

export interface Guard extends ToolGuard {
	/** The local policy set in force (a set that does not load refuses every call). */
	readonly policy: LocalPolicy;
	/** The caller's own audit records, newest first (for the audit-log tool); throws when the message has no caller. */
	readAudit: (query: Omit<AuditQuery, "principal">, extra: unknown) => Promise<AuditRecord[]>;
	/** Ships the audit records waiting in the session's outbox (call it from the wake-up of `scheduleRetry`). */
	shipAuditOutbox: (stalePendingBefore?: number) => Promise<void>;
}

/** A pending audit record older than this belongs to a call that cannot report back any more. */
const STALE_PENDING_MS = 5 * 60_000;

const NO_CALLER = "This session has no authenticated caller for this request: open a new session.";

/** The session's state: a Durable Object's (McpAgent's `this.ctx`). */
export type SessionState = Pick<DurableObjectState, "storage" | "waitUntil" | "id">;

/** The guard of one MCP session: pass it to guardTools. */
export function guardFor(env: GuardEnv, ctx: SessionState, caller: CallerSource, options: GuardOptions = {}): Guard {
	const sql = ctx.storage.sql;
	const config = readConfig(env);
	const authority = createAuthority(config.authority);
	// Looked up per call: parsed once per isolate, again when an upstream's tools change (src/policy/workerd.ts).
	const policy = () => localPolicyFor(config.policyText);
	const approver = options.approver ?? approverOf(config.access);
	const publicOrigin = config.edge.publicOrigin ?? "";
	const sessionId = options.sessionId ?? ctx.id.toString();
	const approvals = () => approvalStore(env);
	const auditLog = (principal: string) => auditLogOf(env, principal);

	sql.exec(
		`CREATE TABLE IF NOT EXISTS loop_attempts (
			tool TEXT NOT NULL,
			loop_key TEXT NOT NULL,
			attempts INTEGER NOT NULL,
			updated_at INTEGER NOT NULL,
			PRIMARY KEY (tool, loop_key)
		)`,
	);
	// One synchronous upsert: nothing can interleave between the read and the write,
	// so concurrent calls in this session each get a distinct number.
	const loops: LoopCounter = {
		reserveLoopAttempt: (tool, key) =>
			sql
				.exec<{ attempts: number }>(
					`INSERT INTO loop_attempts (tool, loop_key, attempts, updated_at) VALUES (?, ?, 1, ?)
					 ON CONFLICT (tool, loop_key) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at
					 RETURNING attempts`,
					tool,
					key,
					Date.now(),
				)
				.one().attempts,
	};

	const outbox = new AuditOutbox({
		sql,
		// Each record goes to the trail of its own principal.
		ship: async (records) => {
			const byPrincipal = new Map<string, ShippedRecord[]>();
			for (const record of records) byPrincipal.set(record.entry.principal, [...(byPrincipal.get(record.entry.principal) ?? []), record]);
			await Promise.all([...byPrincipal].map(([principal, batch]) => auditLog(principal).recordBatch(batch)));
		},
		waitUntil: (promise) => ctx.waitUntil(promise),
		scheduleRetry: () => options.scheduleRetry?.(),
	});
	const shipAuditOutbox = async (stalePendingBefore = Date.now() - STALE_PENDING_MS) => {
		try {
			await outbox.wokeUp(stalePendingBefore);
		} catch (error) {
			console.error(`audit: shipping failed, will retry: ${error instanceof Error ? error.message : String(error)}`);
		}
	};
	// Whatever a previous run of this session left unshipped goes now.
	if (outbox.waiting() > 0) ctx.waitUntil(shipAuditOutbox(Date.now()));
	const audit: AuditTrail = {
		record: (entry) => {
			// One structured line per decision, for Workers Logs and Logpush (never the arguments).
			const { arguments: _omitted, ...line } = entry;
			console.log(JSON.stringify({ event: "guard.decision", ...line, at: new Date(entry.at).toISOString() }));
			return outbox.record(entry);
		},
		complete: (id, outcome, error) => outbox.complete(id, outcome, error),
	};

	const callerOf = (extra: MessageExtra): GuardCaller | undefined => {
		const found = typeof caller === "function" ? caller(extra) : caller;
		if (!found || typeof found.principal !== "string" || !found.principal) return undefined;
		return (ROLES as readonly string[]).includes(found.role) ? found : undefined;
	};

	const depsFor = (extra: MessageExtra): GuardDeps | undefined => {
		const who = callerOf(extra);
		if (!who) return undefined;
		const budgets = budgetOf(env, who.principal);
		const origin = who.approvalsOrigin ?? publicOrigin;
		return {
			authority,
			policy: policy(),
			loops,
			maxRetries: config.maxRetries,
			runtime: { principal: who.principal, role: who.role, sessionId, ...(who.groups ? { groups: who.groups } : {}) },
			approvals: {
				open: async (request) => ({ ...(await approvals().open(request, origin)), approver }),
				consume: (id, expected) => approvals().consume(id, expected),
			} satisfies ApprovalDesk,
			budget: {
				admitCall: () => budgets.admitCall(),
				reserveLoopAttempt: (tool, key) => budgets.reserveLoopAttempt(tool, key),
			},
			audit,
			auditArguments: config.audit.storeArguments,
		};
	};

	return {
		get policy() {
			return policy();
		},
		depsFor,
		shipAuditOutbox,
		readAudit: async (query, extra) => {
			const who = callerOf(extra as MessageExtra);
			if (!who) throw new McpError(ErrorCode.InvalidRequest, NO_CALLER);
			await outbox.settle(); // the caller's latest decisions first
			return auditLog(who.principal).query({ ...query, principal: who.principal });
		},
	};
}
