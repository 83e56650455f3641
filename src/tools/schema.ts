/**
 * Argument schemas shared by the tool definitions. Every string argument is
 * bounded, so an oversized argument is refused by name before anything is
 * built from it or sent to Stage0.
 */
import { z } from "zod";

/** One argument may hold at most 256 KiB of UTF-8. */
export const MAX_ARGUMENT_BYTES = 256 * 1024;

const encoder = new TextEncoder();

export function text(description: string, maxBytes = MAX_ARGUMENT_BYTES) {
	return z
		.string()
		.trim()
		.min(1, "must not be empty")
		.refine((s) => s.length * 3 <= maxBytes || encoder.encode(s).byteLength <= maxBytes, {
			message: `is larger than ${maxBytes} bytes; send less`,
		})
		.describe(description);
}

export const shortName = (description: string) =>
	z.string().trim().min(1, "must not be empty").max(128, "must be at most 128 characters").describe(description);

export const retryCount = z.number().int("must be a whole number").min(0, "must not be negative").max(1_000_000).optional();

export { ROLES } from "../guard/local-policy";
export const APPROVAL_STATUSES = ["approved", "pending", "none"] as const;

/** What every guarded tool returns in structuredContent. */
export const decisionOutputShape = {
	tool: z.string(),
	verdict: z.enum(["ALLOW", "DENY", "DEFER"]),
	decision: z.enum(["GO", "NO_GO", "DEFER", "ERROR"]),
	reason: z.string(),
	request_id: z.string(),
	policy_version: z.string(),
	risk_score: z.number().nullable(),
	high_risk: z.boolean(),
	issues: z.array(z.object({ code: z.string(), severity: z.string(), message: z.string() })),
	questions: z.array(z.string()),
	guardrails: z.array(z.string()),
	source: z.enum(["stage0", "simulated", "local-rule", "fault", "protocol"]),
	executed: z.boolean().describe("Whether the tool's action ran"),
	attempt: z
		.object({
			number: z.number(),
			retry_count: z.number().describe("The count the limit applies to: the larger of counted_retries and claimed_retry_count"),
			max_retries: z.number(),
			counted_retries: z.number().describe("Earlier attempts the server counted itself"),
			claimed_retry_count: z.number().optional().describe("The agent's own retryCount, when given"),
		})
		.optional()
		.describe("The server's own attempt count, for loop tools"),
	result: z.record(z.string(), z.unknown()).optional().describe("The action's output; present only when it ran"),
	error: z.string().optional().describe("Why an allowed action failed"),
	notes: z.array(z.string()).describe("Ignored claims, approvals used, and the like"),
	retry_after_seconds: z.number().optional().describe("For a rate-limited call: when to try again"),
	approval: z
		.object({
			id: z.string(),
			status: z.literal("pending"),
			expires_at: z.string(),
			url: z.string(),
			approver: z
				.enum(["admin", "operator", "none"])
				.optional()
				.describe("Who can grant it: another admin, the operator (npm run dev's approver link), or nobody on this server"),
		})
		.optional()
		.describe("A pending approval a person can grant; retry with approvalId once it is approved"),
};

/** Added to every action tool: the id of an approval granted by a person. */
export const approvalIdArgument = z
	.uuid("must be an approval id")
	.optional()
	.describe("The id of an approval granted by a person for this exact call (same tool and arguments)");
