/**
 * The Worker entry: routing only.
 *   GET /, /health  a description of the server (no secrets)
 *   /mcp            MCP over Streamable HTTP
 *   /sse            MCP over legacy SSE (messages to /sse/message)
 */
import { GuardAgent } from "./agent/guard-agent";
import { type Env, readConfig } from "./config";
import { jsonRpcError, limitBody, MAX_BODY_BYTES } from "./http";
import { SERVER_INFO } from "./server-info";

export { GuardAgent };

const streamable = GuardAgent.serve("/mcp", { binding: "MCP_OBJECT" });
const sse = GuardAgent.serveSSE("/sse", { binding: "MCP_OBJECT" });

let announced = false;

export default {
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		const config = readConfig(env);
		if (!announced) {
			announced = true;
			console.log(
				config.mode === "stage0"
					? `stage0-edge-guard: stage0 mode, checking every tool call at ${config.baseUrl}/check`
					: "stage0-edge-guard: SIMULATED mode (no STAGE0_API_KEY): verdicts come from the local simulator, policy_version simulated-*",
			);
		}
		const { pathname } = new URL(request.url);

		if (request.method === "GET" && (pathname === "/" || pathname === "/health")) {
			return Response.json({
				name: SERVER_INFO.name,
				version: SERVER_INFO.version,
				mode: config.mode,
				endpoints: { streamable_http: "/mcp", sse: "/sse", health: "/health" },
				stage0: config.mode === "stage0" ? { base_url: config.baseUrl, timeout_ms: config.timeoutMs } : null,
				max_retries: config.maxRetries,
			});
		}

		const isMcp = pathname === "/mcp" || pathname.startsWith("/mcp/");
		const isSse = pathname === "/sse" || pathname.startsWith("/sse/");
		if (!isMcp && !isSse) {
			return Response.json({ error: "not_found", message: `No route for ${pathname}. MCP is served at /mcp and /sse.` }, { status: 404 });
		}

		const limited = await limitBody(request, MAX_BODY_BYTES);
		if (!limited) {
			return jsonRpcError(413, -32600, `Request body too large: the limit is ${MAX_BODY_BYTES} bytes.`);
		}
		// The caller's identity; the authentication issue replaces this constant.
		// McpAgent reads the session's props from ctx.props (as workers-oauth-provider sets them).
		(ctx as { props: unknown }).props = { principal: "local", role: "developer" };
		return isMcp ? streamable.fetch(limited, env, ctx) : sse.fetch(limited, env, ctx);
	},
} satisfies ExportedHandler<Env>;
