/**
 * Turns what a tool wants to do (its intent) plus the facts the server knows
 * about the call (its runtime) into the body of a Stage0 /check request.
 *
 * Runtime facts are written last, so nothing a tool or an agent supplies can
 * overwrite who is calling, with which role, under which approval, or which
 * tool is running.
 */
import type { GrantedApproval } from "./approvals";
import type { CheckRequest } from "./decision";
import type { RoleName } from "./local-policy";

/** Only the approval system may state these. */
const APPROVAL_FACTS = ["approved_by", "approved_at", "approval_reason"] as const;

export interface Intent {
	goal: string;
	success_criteria: string[];
	constraints?: string[];
	/** Defaults to the tool's declared side effects. */
	side_effects?: string[];
	/** Tool-specific facts (environment, resource scope, ...). */
	context?: Record<string, unknown>;
	pro?: boolean;
}

export interface CallRuntime {
	/** Who is calling, as authenticated by the transport (never what the agent says). */
	principal: string;
	role: RoleName;
	/** The caller's groups, when its identity has any (the local policy reads them). */
	groups?: readonly string[];
	/** The MCP session; doubles as Stage0's run_id. */
	sessionId: string;
}

export function buildCheckRequest(
	toolName: string,
	intent: Intent & { side_effects: string[] },
	runtime: CallRuntime,
	extraContext: Record<string, unknown> = {},
	approval?: GrantedApproval,
): CheckRequest {
	const context: Record<string, unknown> = {
		...intent.context,
		...extraContext,
		actor_id: runtime.principal,
		actor_role: runtime.role,
		user_role: runtime.role,
		run_id: runtime.sessionId,
		current_tool: toolName,
		request_channel: "mcp",
		approval_status: approval ? "approved" : "none",
	};
	for (const key of APPROVAL_FACTS) delete context[key];
	if (approval) Object.assign(context, { approved_by: approval.approved_by, approved_at: approval.approved_at });
	return {
		goal: intent.goal,
		success_criteria: intent.success_criteria,
		constraints: intent.constraints ?? [],
		tools: [toolName],
		side_effects: intent.side_effects,
		context,
		pro: intent.pro ?? false,
	};
}
