/**
 * Registers guarded tools on an MCP server: one handler for all of them, so
 * the check-then-run pipeline cannot be skipped or copied wrongly per tool.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type GuardDeps, guardedCall } from "../guard/pipeline";
import type { ToolDefinition } from "./definitions";
import { renderOutcome } from "./result";
import { approvalIdArgument, decisionOutputShape } from "./schema";

export function registerGuardedTools(
	server: McpServer,
	tools: readonly ToolDefinition[],
	depsForCall: () => GuardDeps,
): void {
	for (const tool of tools) {
		server.registerTool(
			tool.name,
			{
				title: tool.title,
				description: tool.description,
				// Action tools accept the id of an approval granted by a person.
				inputSchema: tool.kind === "action" ? { ...tool.input, approvalId: approvalIdArgument } : tool.input,
				outputSchema: decisionOutputShape,
				annotations: { title: tool.title, ...tool.annotations },
			},
			async (args: Record<string, unknown>) => {
				const outcome = await guardedCall(tool, args, depsForCall());
				return renderOutcome(tool.name, tool.kind, outcome, tool.summarize);
			},
		);
	}
}
