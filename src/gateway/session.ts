/**
 * Plugs the gateway into an MCP session: the upstreams' tools, and a
 * `refresh-upstream-tools` tool that lists them again on request.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ToolGuard } from "../tools/register";
import type { GatewayConfig } from "./config";
import { Gateway } from "./gateway";

export async function startSessionGateway(server: McpServer, config: GatewayConfig, guard: ToolGuard): Promise<Gateway> {
	const gateway = new Gateway({ server, config, guard });
	// Not checked by Stage0: it changes nothing, upstream or here, beyond this session's cached tool lists.
	server.registerTool(
		"refresh-upstream-tools",
		{
			title: "Refresh upstream tools",
			description: "List the upstream MCP servers' tools again now, and report each upstream's state. Changes nothing.",
			annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
		},
		async () => {
			const upstreams = await gateway.refresh();
			const lines = upstreams.map((u) => `${u.name}: ${u.state}, ${u.tools} tools${u.last_error ? ` (last error: ${u.last_error})` : ""}`);
			return { content: [{ type: "text", text: lines.join("\n") }], structuredContent: { upstreams } };
		},
	);
	await gateway.start();
	return gateway;
}
