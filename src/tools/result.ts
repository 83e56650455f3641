/**
 * Renders a GuardReport as an MCP tool result: structuredContent for
 * programs (its shape is decisionOutputShape, in schema.ts), and a text block
 * for people in the seed's familiar format. A blocked call never shows the
 * action's output, because it has none.
 */
import { z } from "zod";
import type { ApprovalTicket } from "../guard/approvals";
import type { Decision } from "../guard/decision";
import type { ToolKind } from "../guard/enums";
import { assertNever } from "../guard/result";
import type { GuardReport } from "../guard/pipeline";
import { decisionOutputShape } from "./schema";

export interface ToolResult {
	[key: string]: unknown;
	content: { type: "text"; text: string }[];
	structuredContent: Record<string, unknown>;
	isError?: boolean;
}

const RULE = "-".repeat(60);

export function renderReport(
	toolName: string,
	kind: ToolKind,
	report: GuardReport<Record<string, unknown>>,
	summarize?: (output: Record<string, unknown>) => string,
): ToolResult {
	const { decision, action, attempt, approval, notes } = report;
	const structured: Record<string, unknown> = {
		tool: toolName,
		verdict: decision.verdict,
		decision: decision.decision,
		reason: decision.reason,
		request_id: decision.request_id,
		policy_version: decision.policy_version,
		risk_score: decision.risk_score,
		high_risk: decision.high_risk,
		issues: decision.issues,
		questions: decision.questions,
		guardrails: decision.guardrails,
		source: decision.source,
		executed: action.status === "executed",
		notes,
	};
	if (attempt) structured.attempt = attempt;
	if (approval) structured.approval = approval;
	if (report.retry_after_seconds !== undefined) structured.retry_after_seconds = report.retry_after_seconds;
	if (action.status === "executed") structured.result = action.output;
	if (action.status === "failed") structured.error = action.error;

	const lines = [headline(toolName, kind, decision), RULE, ...decisionLines(decision), RULE];
	for (const note of notes) lines.push(`Note: ${note}`);
	if (report.retry_after_seconds !== undefined) lines.push(`Retry after ${report.retry_after_seconds} seconds.`);
	if (action.status === "executed") {
		lines.push(summarize ? summarize(action.output) : JSON.stringify(action.output));
	} else if (action.status === "failed") {
		lines.push(`The action was allowed but failed: ${action.error}`);
	} else if (kind === "action") {
		lines.push(notRunExplanation(decision));
	}
	if (attempt) lines.push(attemptLine(attempt));
	if (approval) {
		lines.push(
			approvalLine(approval),
			`Once approved, call ${toolName} again with the same arguments plus "approvalId": "${approval.id}". It can be used once.`,
		);
	}

	// A query's DENY or DEFER is a valid answer; anything that did not run as
	// asked, or a query that could not be answered, is an error for the caller.
	const isError = kind === "query" ? decision.decision === "ERROR" : action.status !== "executed";
	return { content: [{ type: "text", text: lines.join("\n") }], structuredContent: structured, ...(isError ? { isError } : {}) };
}

/** Where and by whom the approval can be granted, truthfully for this server's mode. */
function approvalLine(approval: ApprovalTicket): string {
	const { id, url, expires_at } = approval;
	const approver = approval.approver;
	switch (approver) {
		case "operator":
			return `Approval requested (${id}): the operator can approve it with the approver link printed by npm run dev (this request: ${url}) until ${expires_at}.`;
		case "none":
			return `Approval requested (${id}), but nobody can approve it on this server: it has no MCP_AUTH_TOKENS and was not started with npm run dev, which prints an approver link. It expires at ${expires_at}.`;
		case "admin":
		case undefined: // absent means another admin
			return `Approval requested (${id}): a person other than you, with the admin role, can approve it at ${url} until ${expires_at}.`;
		default:
			return assertNever(approver);
	}
}

/** The server's count and the agent's claim, each named as what it is. */
function attemptLine(a: NonNullable<GuardReport<unknown>["attempt"]>): string {
	const counted = `${a.counted_retries} earlier ${a.counted_retries === 1 ? "attempt" : "attempts"} counted by the server`;
	const claim = a.claimed_retry_count !== undefined ? `, ${a.claimed_retry_count} claimed by the agent` : "";
	return `Attempt ${a.number} (retry count ${a.retry_count} of at most ${a.max_retries}: ${counted}${claim}).`;
}

function headline(toolName: string, kind: ToolKind, d: Decision): string {
	if (d.decision === "ERROR") {
		const why = d.source === "local-rule" ? "the local policy set cannot be used" : "no usable decision from the authority";
		return `⛔ TOOL CALL BLOCKED: ${toolName} (${why})`;
	}
	const verb = kind === "query" ? "WOULD BE" : "";
	switch (d.verdict) {
		case "ALLOW":
			return `✅ ${verb ? `${verb} ALLOWED` : "TOOL CALL ALLOWED"}: ${toolName}`;
		case "DENY":
			return `⛔ ${verb ? `${verb} BLOCKED` : "TOOL CALL BLOCKED"}: ${toolName}`;
		case "DEFER":
			return `⏸️ ${verb ? `${verb} DEFERRED` : "TOOL CALL DEFERRED"}: ${toolName}`;
		default:
			return assertNever(d);
	}
}

/** The seed's readable block of a decision; also printed by the demos. */
export function decisionLines(
	d: Pick<
		Decision,
		"verdict" | "decision" | "reason" | "request_id" | "policy_version" | "risk_score" | "high_risk" | "guardrails" | "issues" | "questions"
	>,
): string[] {
	const lines = [
		`Verdict: ${d.verdict}`,
		`Decision: ${d.decision}`,
		`Reason: ${d.reason}`,
		`Request ID: ${d.request_id}`,
		`Policy Version: ${d.policy_version}`,
		`Risk Score: ${d.risk_score ?? "n/a"}`,
		`High Risk: ${d.high_risk}`,
	];
	if (d.guardrails.length > 0) lines.push(`Guardrails: ${d.guardrails.join(", ")}`);
	if (d.issues.length > 0) {
		lines.push("Issues detected:");
		for (const i of d.issues) lines.push(`  [${i.severity}] ${i.code}: ${i.message}`);
	}
	if (d.questions.length > 0) {
		lines.push(d.verdict === "DEFER" ? "Clarifying questions:" : "Questions:");
		for (const q of d.questions) lines.push(`  ? ${q}`);
	}
	return lines;
}

function notRunExplanation(d: Decision): string {
	if (d.decision === "ERROR") return "The action was NOT run: without a clear ALLOW the guard fails closed.";
	if (d.verdict === "DEFER") return "The action was NOT run: a person must answer the questions or review it first.";
	return "The action was NOT run.";
}

/**
 * A guarded tool's structuredContent as a client reads it, from the one shape
 * the tools list as their outputSchema (decisionOutputShape); fields added
 * later, such as a gateway's, are kept. Read by the test helpers' call().
 */
export const GuardedResultSchema = z.looseObject(decisionOutputShape);
export type GuardedResult = z.infer<typeof GuardedResultSchema>;

/** A guarded tool's whole MCP result, as a client receives it. */
export const GuardedToolResultSchema = z.looseObject({
	content: z.array(z.object({ type: z.literal("text"), text: z.string() })),
	structuredContent: GuardedResultSchema,
	isError: z.boolean().optional(),
});
export type GuardedToolResult = z.infer<typeof GuardedToolResultSchema>;
