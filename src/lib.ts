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
import { type Env, readConfig } from "./config";
import type { GuardEnv } from "./agent/guard-session";
import { approvalsPage } from "./web/approvals-page";

// Your tools, and how they are registered.
export { defineTool, type Annotations, type ToolDefinition } from "./tools/define";
export { guardTools, type JsonSchemaToolDefinition, type MessageExtra, type RegisterableTool, type ToolGuard } from "./tools/register";
export { registerAuditLogTool } from "./tools/audit-log";
export { text as boundedText, shortName } from "./tools/schema";
export type { Intent } from "./guard/intent";
export type { Decision } from "./guard/decision";
export type { GuardOutcome, ToolAnnotations } from "./guard/pipeline";

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
export { authenticate, type AuthResult } from "./auth/authenticate";
export { callerOfMessage, type RequestCaller, withCallerHeader } from "./auth/request-caller";
export type { Caller, Role } from "./auth/tokens";

// The Durable Object classes the guard needs: export them from your Worker and bind them (README, "The guard as a library").
export { ApprovalStore } from "./state/approval-store";
export { AuditLog } from "./state/audit-log";
export { BudgetStore } from "./state/budget-store";

/**
 * The approvals API (`/api/approvals…`), the audit API (`/api/audit…`) and the
 * approvers' page (`GET /approvals`) for an authenticated caller; undefined
 * for any other path. Authenticate first: these answer whoever `caller` is.
 */
export async function guardRoutes(request: Request, env: GuardEnv, caller: Caller): Promise<Response | undefined> {
	const { pathname } = new URL(request.url);
	// The APIs read only APPROVALS, AUDIT_LOG and MCP_AUTH_TOKENS of the server's bindings.
	const bindings = env as Env;
	if (pathname === "/api/approvals" || pathname.startsWith("/api/approvals/")) return handleApprovalsApi(request, bindings, caller);
	if (pathname === "/api/audit" || pathname.startsWith("/api/audit/"))
		return handleAuditApi(request, bindings, readConfig(env).access.tokens, caller);
	if (pathname === "/approvals" && request.method === "GET") return approvalsPage();
	return undefined;
}
