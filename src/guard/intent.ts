/**
 * Turns what a tool wants to do (its intent) plus the facts the server knows
 * about the call (its runtime) into the body of a Stage0 /check request.
 *
 * Runtime facts are written last, so an intent can never overwrite who is
 * calling or which tool is running.
 */
import type { CheckRequest } from "./decision";

export interface Intent {
	goal: string;
	success_criteria: string[];
	constraints?: string[];
	side_effects: string[];
	/** Tool-specific facts (environment, resource scope, ...). */
	context?: Record<string, unknown>;
	pro?: boolean;
}

export interface CallRuntime {
	/** Who is calling, as established by the transport (not by the agent). */
	principal: string;
	role: string;
	/** The MCP session; doubles as Stage0's run_id. */
	sessionId: string;
}

export function buildCheckRequest(
	toolName: string,
	intent: Intent,
	runtime: CallRuntime,
	extraContext: Record<string, unknown> = {},
): CheckRequest {
	return {
		goal: intent.goal,
		success_criteria: intent.success_criteria,
		constraints: intent.constraints ?? [],
		tools: [toolName],
		side_effects: intent.side_effects,
		context: {
			...intent.context,
			...extraContext,
			actor_id: runtime.principal,
			run_id: runtime.sessionId,
			current_tool: toolName,
			request_channel: "mcp",
		},
		pro: intent.pro ?? false,
	};
}
