/**
 * Turns what a tool wants to do (its intent) plus the facts the server knows
 * about the call (its runtime) into the body of a Stage0 /check request.
 *
 * Runtime facts are written last, so nothing a tool or an agent supplies can
 * overwrite who is calling, with which role, under which approval, which tool
 * is running, or which arguments (their hash) and payload the check is about.
 * Stage0 sees the payload only as a bounded, redacted summary with its hash, so
 * an ALLOW is about this content and no other.
 */
import { createHash } from "node:crypto";
import type { GrantedApproval } from "./approvals";
import { redactSecretText } from "./audit";
import type { CheckRequest } from "./decision";
import type { Role } from "./enums";

/** Only the approval system may state these. */
const APPROVAL_FACTS = ["approved_by", "approved_at", "approval_reason"] as const;

/** How much of a payload Stage0 sees, in characters (code points), before "…". */
export const PAYLOAD_EXCERPT_CHARS = 500;

export interface Intent {
	goal: string;
	success_criteria: string[];
	constraints?: string[];
	/** Defaults to the tool's declared side effects. */
	side_effects?: string[];
	/** Tool-specific facts (environment, resource scope, ...). */
	context?: Record<string, unknown>;
	pro?: boolean;
	/** What the action would publish or deploy: Stage0 gets its summary (payload_summary), never the whole. */
	payload?: string;
}

/** What Stage0 is told about a payload: enough to decide on this content, never a secret in it. */
export interface PayloadSummary {
	sha256: string;
	/** In UTF-16 code units, as the tool's argument limits count. */
	length: number;
	/** The start of the payload, secrets redacted, at most PAYLOAD_EXCERPT_CHARS characters plus "…". */
	excerpt: string;
	truncated: boolean;
}

export function summarizePayload(payload: string): PayloadSummary {
	const redacted = redactSecretText(payload);
	// Slice by code points (a bounded prefix first), so no character is cut in two.
	const chars = Array.from(redacted.slice(0, PAYLOAD_EXCERPT_CHARS * 2 + 1)).slice(0, PAYLOAD_EXCERPT_CHARS + 1);
	const truncated = chars.length > PAYLOAD_EXCERPT_CHARS;
	return {
		sha256: createHash("sha256").update(payload).digest("hex"),
		length: payload.length,
		excerpt: truncated ? `${chars.slice(0, PAYLOAD_EXCERPT_CHARS).join("")}…` : chars.join(""),
		truncated,
	};
}

export interface CallRuntime {
	/** Who is calling, as authenticated by the transport (never what the agent says). */
	principal: string;
	role: Role;
	/** The caller's groups, when its identity has any (the local policy reads them). */
	groups?: readonly string[];
	/** The MCP session; doubles as Stage0's run_id. */
	sessionId: string;
}

/** What a check request is built from: the tool's intent and the facts only the server knows. */
export interface CheckFacts {
	toolName: string;
	intent: Intent & { side_effects: string[] };
	runtime: CallRuntime;
	/** Facts the pipeline adds (the server's retry_count); written over the intent's context. */
	extraContext?: Record<string, unknown>;
	/** The approval a person granted for this call, if one was used. */
	approval?: GrantedApproval;
	/** SHA-256 of the call's canonical arguments (argumentsHash): what approvals and the audit trail are bound to. */
	argsHash?: string;
}

export function buildCheckRequest(facts: CheckFacts): CheckRequest {
	const { toolName, intent, runtime, extraContext = {}, approval, argsHash } = facts;
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
	delete context.args_sha256;
	delete context.payload_summary;
	if (argsHash !== undefined) context.args_sha256 = argsHash;
	if (intent.payload !== undefined) context.payload_summary = summarizePayload(intent.payload);
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
