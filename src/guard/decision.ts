/**
 * The Decision every authority (Stage0, the simulator, the local policy, a
 * fault) produces, the Authority interface, the body of a Stage0 check, and
 * the zod schema that reads Stage0's answer.
 */
import { z } from "zod";
import { type DecisionPosture, DECISIONS, type DecisionSource, VERDICTS } from "./enums";

export interface PolicyIssue {
	code: string;
	severity: string;
	message: string;
}

/** What every decision says besides its verdict and posture. */
interface DecisionDetails {
	reason: string;
	request_id: string;
	policy_version: string;
	risk_score: number | null;
	high_risk: boolean;
	issues: PolicyIssue[];
	/** clarifying_questions and defer_questions, in that order. */
	questions: string[];
	guardrails: string[];
	source: DecisionSource;
	/** Milliseconds spent waiting for the authority (0 for local decisions). */
	latency_ms: number;
}

/** The only decision that lets an action run: an ALLOW is always a GO. */
export interface Allow extends DecisionDetails {
	verdict: "ALLOW";
	decision: "GO";
}

/** A DENY or DEFER, with the posture the authority gave (ERROR for a fault). */
export interface Refusal extends DecisionDetails {
	verdict: "DENY" | "DEFER";
	decision: DecisionPosture;
}

export type Decision = Allow | Refusal;

/** The request body of POST /check (see stage0-contract.md). */
export interface CheckRequest {
	goal: string;
	success_criteria: string[];
	constraints: string[];
	tools: string[];
	side_effects: string[];
	context: Record<string, unknown>;
	pro: boolean;
}

/**
 * Anything that can decide a CheckRequest. Implementations must never throw:
 * every failure is itself a non-ALLOW Decision (fail closed).
 */
export interface Authority {
	readonly mode: "stage0" | "simulated";
	check(request: CheckRequest): Promise<Decision>;
}

const IssueSchema = z.object({
	code: z.string().catch("UNKNOWN"),
	severity: z.string().catch("UNKNOWN"),
	message: z.string().catch(""),
});

const stringList = z.array(z.string()).catch([]);

/**
 * Stage0's 200 answer. `verdict` is the gate and must be exactly one of the
 * three; the display fields are tolerant (a malformed list becomes empty) and
 * unknown fields pass through untouched but are never used to decide.
 */
export const Stage0AnswerSchema = z.looseObject({
	verdict: z.enum(VERDICTS),
	decision: z.enum(DECISIONS).optional(),
	reason: z.string().optional(),
	request_id: z.string().min(1).optional(),
	policy_version: z.string().optional(),
	policy_pack_version: z.string().optional(),
	risk_score: z.number().min(0).max(100).nullable().optional().catch(null),
	high_risk: z.boolean().optional().catch(undefined),
	issues: z.array(IssueSchema).optional().catch([]),
	clarifying_questions: stringList.optional(),
	defer_questions: stringList.optional(),
	guardrails: stringList.optional(),
	decision_trace_summary: z.string().optional().catch(undefined),
});
export type Stage0Answer = z.infer<typeof Stage0AnswerSchema>;

/** A fault: the authority could not be asked or did not answer usably. */
export function faultDecision(reason: string, requestId: string, latencyMs: number): Refusal {
	return {
		verdict: "DENY",
		decision: "ERROR",
		reason,
		request_id: requestId,
		policy_version: "unavailable",
		risk_score: null,
		high_risk: false,
		issues: [],
		questions: [],
		guardrails: [],
		source: "fault",
		latency_ms: latencyMs,
	};
}
