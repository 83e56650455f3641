/**
 * The Worker entry: routing only.
 *   GET /, /health      a description of the server (no secrets)
 *   /mcp                MCP over Streamable HTTP        (authenticated)
 *   /sse                MCP over legacy SSE             (authenticated)
 *   /api/approvals...   the approvals API               (authenticated)
 *   /api/audit...       the audit trail                 (authenticated)
 *   GET /approvals      the approvers' page (its data comes from the API)
 */
import { env as startupEnv } from "cloudflare:workers";
import { GuardAgent } from "./agent/guard-agent";
import { handleApprovalsApi } from "./api/approvals";
import { handleAuditApi } from "./api/audit";
import { authenticate } from "./auth/authenticate";
import { type Env, readConfig } from "./config";
import { readGatewayConfig, scrubHeaderValues } from "./gateway/config";
import { upstreamStatuses } from "./gateway/status";
import { jsonError, jsonRpcError, limitBody, MAX_BODY_BYTES } from "./http";
import { SERVER_INFO } from "./server-info";
import { sessionNamespaceFor } from "./session-scope";
import { ApprovalStore } from "./state/approval-store";
import { AuditLog } from "./state/audit-log";
import { BudgetStore } from "./state/budget-store";
import { approvalsPage } from "./web/approvals-page";

export { ApprovalStore, AuditLog, BudgetStore, GuardAgent };

const streamable = GuardAgent.serve("/mcp", { binding: "MCP_OBJECT" });
const sse = GuardAgent.serveSSE("/sse", { binding: "MCP_OBJECT" });

// The start-up line: which mode this isolate decides in (never the key).
{
	const config = readConfig(startupEnv as Partial<Env>);
	if (config.mode === "stage0" && config.baseUrlProblem) {
		console.error(`stage0-edge-guard: STAGE0_BASE_URL is not usable: ${config.baseUrlProblem}. Every guarded call will be refused.`);
	} else console.log(
		config.mode === "stage0"
			? `stage0-edge-guard: stage0 mode, checking every tool call at ${config.baseUrl}/check`
			: "stage0-edge-guard: SIMULATED mode (no STAGE0_API_KEY): verdicts come from the local simulator, policy_version simulated-*",
	);
	const gateway = readGatewayConfig(startupEnv as Partial<Env>);
	if (gateway.upstreams.length > 0) console.log(`stage0-edge-guard: gateway in front of ${gateway.upstreams.map((u) => u.name).join(", ")}`);
	if (gateway.guardMode === "shadow") {
		console.warn(
			"stage0-edge-guard: *** SHADOW MODE (GUARD_MODE=shadow) *** upstream tool calls are decided and recorded but run WHATEVER THE VERDICT; set GUARD_MODE=enforce to block",
		);
	}
}

export default {
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		const url = new URL(request.url);
		const { pathname } = url;

		if (request.method === "GET" && (pathname === "/" || pathname === "/health")) {
			const config = readConfig(env);
			const gateway = readGatewayConfig(env);
			// GET / asks an upstream this isolate has not seen lately; /health (polled) only reports what is known.
			const upstreams = await upstreamStatuses(gateway, pathname === "/", (text) => scrubHeaderValues(text, gateway.upstreams));
			return Response.json({
				name: SERVER_INFO.name,
				version: SERVER_INFO.version,
				mode: config.mode,
				endpoints: {
					streamable_http: "/mcp",
					sse: "/sse",
					approvals: "/approvals",
					approvals_api: "/api/approvals",
					audit_api: "/api/audit",
					health: "/health",
				},
				stage0: config.mode === "stage0" ? { base_url: config.baseUrl, timeout_ms: config.timeoutMs } : null,
				max_retries: config.maxRetries,
				authentication: env.MCP_AUTH_TOKENS?.trim() ? "bearer" : "loopback-only",
				guard_mode: gateway.guardMode,
				...(gateway.guardMode === "shadow"
					? { warning: "SHADOW MODE: upstream tool calls are decided and recorded, then run whatever the verdict (would_block in _meta and the audit trail)." }
					: {}),
				builtin_tools: gateway.builtinTools,
				upstreams,
			});
		}
		if (request.method === "GET" && pathname === "/approvals") return approvalsPage();

		const isMcp = pathname === "/mcp" || pathname.startsWith("/mcp/");
		const isSse = pathname === "/sse" || pathname.startsWith("/sse/");
		const isApprovals = pathname === "/api/approvals" || pathname.startsWith("/api/approvals/");
		const isAudit = pathname === "/api/audit" || pathname.startsWith("/api/audit/");
		if (!isMcp && !isSse && !isApprovals && !isAudit) {
			return jsonError(404, "not_found", `No route for ${pathname}.`);
		}

		// Who is calling, before any Durable Object is touched.
		const auth = await authenticate(request, env);
		if (!auth.ok) return auth.response;
		const { caller } = auth;

		const limited = await limitBody(request, MAX_BODY_BYTES);
		if (!limited) return jsonRpcError(413, -32600, `Request body too large: the limit is ${MAX_BODY_BYTES} bytes.`);

		if (isApprovals) return handleApprovalsApi(limited, env, caller);
		if (isAudit) return handleAuditApi(limited, env, caller);

		// McpAgent reads the session's props from ctx.props (as workers-oauth-provider sets them).
		(ctx as { props: unknown }).props = { principal: caller.principal, role: caller.role, origin: url.origin };
		// Sessions are scoped to their principal: another caller presenting the
		// same session id reaches a different, empty object ("session not found").
		const scopedEnv = { ...env, MCP_OBJECT: sessionNamespaceFor(env.MCP_OBJECT, caller.principal) };
		return isMcp ? streamable.fetch(limited, scopedEnv, ctx) : sse.fetch(limited, scopedEnv, ctx);
	},
} satisfies ExportedHandler<Env>;
