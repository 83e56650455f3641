/**
 * The local authority used when no STAGE0_API_KEY is configured.
 *
 * It reproduces the seed project's simulated Stage0 so the demos behave the
 * same without a key, and it honours a human approval recorded by the server
 * (approval_status "approved" with approved_by), so the approval flow can be
 * tried without a key too. It is deterministic for a
 * given request (only `request_id` is fresh) and pure: no I/O, no clock.
 * Precedence: DENY before DEFER before ALLOW, except that a vague goal with
 * no side effect needing guardrails is DEFERred with clarifying questions even
 * without success criteria (the seed's DEFER demo: "a vague request without
 * clear success criteria"); a clear goal without criteria is still DENIED.
 */
import type { Authority, CheckRequest, Decision, PolicyIssue } from "./decision";

export const SIMULATED_POLICY_VERSION = "simulated-v1.0.0";

/** Side effects that need approval guardrails. Anything unknown is treated as one too. */
const HARMLESS_SIDE_EFFECTS = new Set(["loop"]);
const LOOP_THRESHOLD = 5;

/** Phrases that say nothing about the desired outcome (seed: 'help me', 'think', '幫我', '想一下'). */
const VAGUE_WORDS = /\b(help me|think)\b/i;
const VAGUE_CJK = ["幫我", "想一下"];
const MIN_GOAL_LENGTH = 10;

export function isVagueGoal(goal: string): boolean {
	const trimmed = goal.trim();
	return trimmed.length < MIN_GOAL_LENGTH || VAGUE_WORDS.test(trimmed) || VAGUE_CJK.some((p) => trimmed.includes(p));
}

export function simulateDecision(request: CheckRequest, requestId: string): Decision {
	const base = {
		request_id: requestId,
		policy_version: SIMULATED_POLICY_VERSION,
		source: "simulated" as const,
		latency_ms: 0,
		guardrails: [] as string[],
		questions: [] as string[],
	};
	const sideEffects = request.side_effects.map((s) => s.trim().toLowerCase()).filter(Boolean);
	const guarded = sideEffects.filter((s) => !HARMLESS_SIDE_EFFECTS.has(s));
	// Asking what the caller wants is the right answer to a vague request; a side effect that needs guardrails is still denied.
	const askWhatIsWanted = guarded.length === 0 && isVagueGoal(request.goal);

	// DENY: nothing to judge success by.
	if (request.success_criteria.filter((c) => c.trim()).length === 0 && !askWhatIsWanted) {
		return {
			...base,
			verdict: "DENY",
			decision: "NO_GO",
			reason: "HIGH severity: MISSING_SUCCESS_CRITERIA - the action has no success criteria to judge it by",
			risk_score: 60,
			high_risk: true,
			issues: [{ code: "MISSING_SUCCESS_CRITERIA", severity: "HIGH", message: "No success criteria were given" }],
		};
	}

	// A person approved this exact call (the server sets these facts, never the agent).
	const approvedBy = request.context.approval_status === "approved" ? request.context.approved_by : undefined;
	const approved = typeof approvedBy === "string" && approvedBy.length > 0;

	// DENY: side effects without approval guardrails.
	if (guarded.length > 0 && !approved) {
		const list = guarded.map((s) => `'${s}'`).join(", ");
		const issues: PolicyIssue[] = [
			{
				code: "SIDE_EFFECTS_NEED_GUARDRAILS",
				severity: "HIGH",
				message: `Side effects [${guarded.join(", ")}] require approval guardrails`,
			},
		];
		return {
			...base,
			verdict: "DENY",
			decision: "NO_GO",
			reason: `HIGH severity: SIDE_EFFECTS_NEED_GUARDRAILS - ${list} side effect requires approval guardrails`,
			risk_score: guarded.some((s) => s === "deploy" || s === "deployment") ? 90 : 85,
			high_risk: true,
			issues,
		};
	}

	// DEFER: a loop that has already retried too often.
	const retryCount = Number(request.context.retry_count ?? 0);
	if (sideEffects.includes("loop") && Number.isFinite(retryCount) && retryCount >= LOOP_THRESHOLD && !approved) {
		return {
			...base,
			verdict: "DEFER",
			decision: "DEFER",
			reason: `LOOP_THRESHOLD_EXCEEDED: retried ${retryCount} times; the threshold is ${LOOP_THRESHOLD}. A person should look before it runs again.`,
			risk_score: 55,
			high_risk: false,
			issues: [
				{
					code: "LOOP_THRESHOLD_EXCEEDED",
					severity: "MEDIUM",
					message: `Retry count ${retryCount} reached the threshold ${LOOP_THRESHOLD}`,
				},
			],
			questions: ["Why has this workflow failed repeatedly?", "Should the root cause be fixed before another retry?"],
		};
	}

	// DEFER: the goal says nothing about the outcome.
	if (isVagueGoal(request.goal)) {
		return {
			...base,
			verdict: "DEFER",
			decision: "DEFER",
			reason: "UNCLEAR_VALUE_SIGNAL: Task appears under-specified for reliable value delivery.",
			risk_score: 35,
			high_risk: false,
			issues: [{ code: "UNCLEAR_VALUE_SIGNAL", severity: "MEDIUM", message: "The goal does not state a concrete outcome" }],
			questions: ["What is the specific outcome you want to achieve?", "What constraints or requirements should be considered?"],
		};
	}

	const readOnly = sideEffects.length === 0;
	if (approved && !readOnly) {
		return {
			...base,
			verdict: "ALLOW",
			decision: "GO",
			reason: `Side effects [${sideEffects.join(", ")}] are covered by a human approval from ${approvedBy}`,
			risk_score: 40,
			high_risk: false,
			issues: [],
			guardrails: ["human_approval"],
		};
	}
	return {
		...base,
		verdict: "ALLOW",
		decision: "GO",
		reason: readOnly
			? "Informational operation with no high-risk side effects"
			: `Retry within the loop threshold (retry count ${retryCount}, threshold ${LOOP_THRESHOLD}) with no high-risk side effects`,
		risk_score: readOnly ? 15 : 30,
		high_risk: false,
		issues: [],
		guardrails: readOnly ? ["read_only"] : [],
	};
}

export class SimulatedAuthority implements Authority {
	readonly mode = "simulated" as const;
	constructor(private readonly newRequestId: () => string = () => crypto.randomUUID()) {}
	async check(request: CheckRequest): Promise<Decision> {
		return simulateDecision(request, this.newRequestId());
	}
}
