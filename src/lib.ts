/**
 * The package's public API (`import … from "stage0-edge-guard"`): guard the
 * tools of your own MCP server on Workers with the same checks, results,
 * counters, approvals and audit trail as this server's built-in tools, which
 * are written with exactly this API.
 *
 * Importing it runs nothing: no binding is read, no global is touched, nothing
 * is logged (test/lib/entry.test.ts). Everything happens when guardFor,
 * guardTools or guardRoutes are called.
 */
import { handleApprovalsApi } from "./api/approvals";
import { handleAuditApi } from "./api/audit";
import type { Caller } from "./auth/tokens";
import { authenticate as authenticateWith, type AuthResult } from "./auth/authenticate";
import { type Env, readConfig } from "./config";
import type { GuardEnv } from "./agent/guard-session";
import { sessionNamespaceFor } from "./session-scope";

// Your tools, and how they are registered.
export { defineTool, type Annotations, type ToolDefinition } from "./tools/define";
export { guardTools, type JsonSchemaToolDefinition, type MessageExtra, type RegisterableTool, type ToolGuard } from "./tools/register";
export { registerAuditLogTool } from "./tools/audit-log-tool";
export { text as boundedText, shortName } from "./tools/schema";
export type { Intent } from "./guard/intent";
export type { Decision } from "./guard/decision";
export type { GuardReport, ToolAnnotations } from "./guard/pipeline";
export type { Result } from "./guard/result";

// The guard of a session.
export {
	guardFor,
	type CallerSource,
	type Guard,
	type GuardCaller,
	type GuardEnv,
	type GuardOptions,
	type SessionState,
} from "./agent/guard-session";

// Who is calling: bearer tokens (MCP_AUTH_TOKENS), and handing each request's caller to its session.
export type { AuthResult } from "./auth/authenticate";

/** The caller of a request by its bearer token (MCP_AUTH_TOKENS), or the JSON response that refuses it. */
export function authenticate(request: Request, env: GuardEnv): Promise<AuthResult> {
	return authenticateWith(request, readConfig(env).access);
}
export { callerOfMessage, type RequestCaller, withCallerHeader } from "./auth/request-caller";

/**
 * Your McpAgent's namespace as one caller reaches it: hand your agent's
 * `serve(...).fetch` the env `{ ...env, MCP_OBJECT: sessionsOf(env.MCP_OBJECT, caller) }`.
 * McpAgent finds a session by the Mcp-Session-Id header alone, which any client
 * can send; through this namespace a session id names a session only together
 * with the credential that opened it, so a token that learnt another token's
 * session id (even one of the same principal) gets "Session not found", not
 * that session's counters and history. `credential` is what `authenticate`
 * returns (the SHA-256 of the bearer token); with your own authentication, pass
 * a stable id of the exact credential presented, never one of the person only.
 */
export function sessionsOf<T extends Rpc.DurableObjectBranded | undefined>(
	namespace: DurableObjectNamespace<T>,
	caller: Pick<Caller, "credential">,
): DurableObjectNamespace<T> {
	if (typeof caller.credential !== "string" || caller.credential === "")
		throw new TypeError("sessionsOf: the caller has no credential, so its sessions cannot be told from anyone else's");
	return sessionNamespaceFor(namespace, caller.credential);
}
export type { Caller } from "./auth/tokens";
export type { Role } from "./guard/enums";

// The Durable Object classes the guard needs: export them from your Worker and bind them (README, "The guard as a library").
export { ApprovalStore } from "./state/approval-store";
export { AuditLog } from "./state/audit-log";
export { BudgetStore } from "./state/budget-store";

/**
 * The approvals API (`/api/approvals…`) and the audit API (`/api/audit…`) for
 * an authenticated caller; undefined for any other path. Authenticate first:
 * these answer whoever `caller` is. (The approvers' page, with its cookie
 * sign-in, belongs to the guard's own Worker; approvers of a library user's
 * Worker use the JSON API.)
 */
export async function guardRoutes(request: Request, env: GuardEnv, caller: Caller): Promise<Response | undefined> {
	const { pathname } = new URL(request.url);
	// The APIs read only APPROVALS, AUDIT_LOG and MCP_AUTH_TOKENS of the server's bindings.
	const bindings = env as Env;
	if (pathname === "/api/approvals" || pathname.startsWith("/api/approvals/")) return handleApprovalsApi(request, bindings, caller);
	if (pathname === "/api/audit" || pathname.startsWith("/api/audit/"))
		return handleAuditApi(request, bindings, readConfig(env).access.tokens, caller);
	return undefined;
}
