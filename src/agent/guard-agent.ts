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
import { callerOfMessage } from "../auth/request-caller";
import { type Env, readConfig } from "../config";
import { startSessionGateway } from "../gateway/session";
import { SERVER_INFO } from "../server-info";
import { registerAuditLogTool } from "../tools/audit-log-tool";
import { TOOLS } from "../tools/definitions";
import { guardTools } from "../tools/register";
import { type Guard, guardFor } from "./guard-session";

/**
 * Set by the Worker entry when the session opens, and stored by McpAgent: whose
 * session it is. Never the role (that is per request).
 */
export type SessionProps = { principal: string; credential: string };

export class GuardAgent extends McpAgent<Env, unknown, SessionProps> {
	#guard?: Guard;

	server = new McpServer(SERVER_INFO, {
		instructions:
			"Every tool here is checked by an external policy authority (Stage0) before it runs. A BLOCKED or DEFERRED result means the action did not happen; do not try to work around it. Your role comes from your credentials, not from arguments.",
	});

	async init(): Promise<void> {
		// A session object started without its owner (only the Worker opens sessions,
		// always with props) serves no call: it has no caller.
		const owner = this.props?.principal && this.props.credential ? this.props : undefined;
		// Who can approve here (admins, the operator of `npm run dev`, or nobody), for the refusal's words.
		const config = readConfig(this.env);
		const approver = approverOf(config.access);
		// The approver link of `npm run dev` is on 127.0.0.1: links to requests use the same origin, so the
		// signed-in page can open them (localhost would be another origin, with its own sessionStorage).
		const pageOrigin = (origin: string) =>
			approver === "operator" ? origin.replace(/^http:\/\/(localhost|\[::1\])(?=:|$)/, "http://127.0.0.1") : origin;
		// The caller of each message, as the Worker authenticated ITS request: its role is re-resolved on
		// every request. A caller that is not the session's owner gets nothing.
		const guard = guardFor(
			this.env,
			this.ctx,
			(extra) => {
				const caller = callerOfMessage(extra);
				if (!owner || !caller || caller.credential !== owner.credential || caller.principal !== owner.principal) return undefined;
				return { principal: caller.principal, role: caller.role, approvalsOrigin: pageOrigin(caller.approvalsOrigin) };
			},
			{
				sessionId: this.getSessionId(),
				approver,
				scheduleRetry: () => this.schedule(60, "shipAuditOutbox", undefined, { idempotent: true }),
			},
		);
		this.#guard = owner ? guard : undefined;
		// The built-in tools (unless BUILTIN_TOOLS=false), then the upstreams' (gateway mode, src/gateway/):
		// one public registration function (guardTools) and one pipeline for both.
		const gateway = config.gateway;
		guardTools(this.server, gateway.builtinTools ? TOOLS : [], guard);
		if (gateway.upstreams.length > 0) await startSessionGateway(this.server, gateway, guard);
		registerAuditLogTool(this.server, guard.readAudit);
	}

	/** The durable wake-up of the audit outbox (see AuditOutbox). */
	async shipAuditOutbox(stalePendingBefore?: number): Promise<void> {
		await this.#guard?.shipAuditOutbox(typeof stalePendingBefore === "number" ? stalePendingBefore : undefined);
	}
}
