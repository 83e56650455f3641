/**
 * The MCP session: one Durable Object per session, serving the guarded tools.
 *
 * It owns one piece of state, the session's loop counters. Everything else
 * (what to ask, whom to ask, what to do with the answer) is in the guard core.
 *
 * A session belongs to the credential that opened it (its object's name says
 * which, see session-scope.ts). Who is calling, and with which role, is read
 * from each request (auth/request-caller.ts), never from what the session
 * stored when it started: a demoted token is a viewer on its next call.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpAgent } from "agents/mcp";
import { approverOf } from "../auth/operator";
import type { RequestCaller } from "../auth/request-caller";
import { type Env, readConfig } from "../config";
import type { ApprovalDesk } from "../guard/approvals";
import type { AuditTrail } from "../guard/audit";
import { AuditOutbox } from "./audit-outbox";
import type { PrincipalBudget } from "../guard/budgets";
import { createAuthority } from "../guard/authority";
import { isListed } from "../guard/local-policy";
import type { GuardDeps, LoopCounter } from "../guard/pipeline";
import { localPolicyFor } from "../policy/workerd";
import { readGatewayConfig } from "../gateway/config";
import { startSessionGateway } from "../gateway/session";
import { SERVER_INFO } from "../server-info";
import { TOOLS } from "../tools/definitions";
import { registerAuditLogTool } from "../tools/audit-log";
import { depsForMessage, gateToolRequests, registerGuardedTools } from "../tools/register";

/**
 * Set by the Worker entry when the session opens, and stored by McpAgent: whose
 * session it is. Never the role (that is per request).
 */
export type SessionProps = { principal: string; credential: string };

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
		// A session object started without its owner (only the Worker opens sessions,
		// always with props) serves no call: every handler below refuses.
		const owner = this.props?.principal && this.props.credential ? this.props : undefined;
		const config = readConfig(this.env);
		const authority = createAuthority(config);
		const store = () => this.env.APPROVALS.get(this.env.APPROVALS.idFromName("global"));
		// Who can approve here (admins, the operator of `npm run dev`, or nobody), for the refusal's words.
		const approver = approverOf(this.env);
		// The approver link of `npm run dev` is on 127.0.0.1: links to requests use the same origin, so the
		// signed-in page can open them (localhost would be another origin, with its own sessionStorage).
		const pageOrigin = (origin: string) =>
			approver === "operator" ? origin.replace(/^http:\/\/(localhost|\[::1\])(?=:|$)/, "http://127.0.0.1") : origin;
		// The principal's own objects: limits and audit trail follow it across sessions.
		const principal = owner?.principal ?? "";
		const budgets = this.env.BUDGETS.get(this.env.BUDGETS.idFromName(principal));
		const budget: PrincipalBudget = {
			admitCall: () => budgets.admitCall(),
			reserveLoopAttempt: (tool, key) => budgets.reserveLoopAttempt(tool, key),
		};
		const auditLog = this.env.AUDIT_LOG.get(this.env.AUDIT_LOG.idFromName(principal));
		const outbox = new AuditOutbox({
			sql: this.ctx.storage.sql,
			ship: (records) => auditLog.recordBatch(records),
			waitUntil: (promise) => this.ctx.waitUntil(promise),
			scheduleRetry: () => {
				this.schedule(60, "shipAuditOutbox", undefined, { idempotent: true }).catch((error) =>
					console.error(`audit: could not schedule shipping: ${error instanceof Error ? error.message : String(error)}`),
				);
			},
		});
		if (owner) {
			this.#outbox = outbox;
			// Whatever a previous run of this session left unshipped goes now.
			if (outbox.waiting() > 0) this.ctx.waitUntil(this.shipAuditOutbox(Date.now()));
		}
		const audit: AuditTrail = {
			record: (entry) => {
				// One structured line per decision, for Workers Logs and Logpush (never the arguments).
				const { arguments: _omitted, ...line } = entry;
				console.log(JSON.stringify({ event: "guard.decision", ...line, at: new Date(entry.at).toISOString() }));
				return outbox.record(entry);
			},
			complete: (id, outcome, error) => outbox.complete(id, outcome, error),
		};
		const sessionId = this.getSessionId();
		// Parsed once per isolate; a broken set refuses every call (see GuardDeps.policy).
		const policy = localPolicyFor(this.env);
		// Everything a call needs, for the caller of THAT call: its role is re-resolved by
		// the Worker on every request. A caller that is not the session's owner gets nothing.
		const depsFor = (caller: RequestCaller): GuardDeps | undefined => {
			if (!owner || caller.credential !== owner.credential || caller.principal !== owner.principal) return undefined;
			return {
				authority,
				policy,
				loops: this,
				maxRetries: config.maxRetries,
				runtime: { principal: caller.principal, role: caller.role, sessionId },
				approvals: {
					open: async (request) => ({ ...(await store().open(request, pageOrigin(caller.approvalsOrigin))), approver }),
					consume: (id, expected) => store().consume(id, expected),
				} satisfies ApprovalDesk,
				budget,
				audit,
				auditArguments: config.auditArguments,
			};
		};
		// The built-in tools (unless BUILTIN_TOOLS=false), then the upstreams' (gateway mode, src/gateway/):
		// one registration function and one pipeline for both.
		const gateway = readGatewayConfig(this.env);
		registerGuardedTools(this.server, gateway.builtinTools ? TOOLS : [], depsFor);
		const upstreams = gateway.upstreams.length > 0 ? await startSessionGateway(this.server, gateway, depsFor) : undefined;
		registerAuditLogTool(this.server, async (query, extra) => {
			depsForMessage(extra as Parameters<typeof depsForMessage>[0], depsFor); // only the session's owner reads
			await outbox.settle(); // the caller's latest decisions first
			return auditLog.query({ ...query, principal });
		});
		// A caller sees and may call only the tools the local policy could ever let it run.
		gateToolRequests(this.server, {
			hiddenFrom: (caller, name) => {
				const tool = TOOLS.find((t) => t.name === name) ?? upstreams?.definitionOf(name);
				return tool !== undefined && !isListed(policy, caller, tool);
			},
			depsFor,
		});
	}

	/** The durable wake-up of the audit outbox (see AuditOutbox). */
	async shipAuditOutbox(stalePendingBefore = Date.now() - STALE_PENDING_MS): Promise<void> {
		const outbox = this.#outbox;
		if (!outbox) return;
		try {
			await outbox.shipAll(typeof stalePendingBefore === "number" ? stalePendingBefore : Date.now() - STALE_PENDING_MS);
		} catch (error) {
			console.error(`audit: shipping failed, will retry: ${error instanceof Error ? error.message : String(error)}`);
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
