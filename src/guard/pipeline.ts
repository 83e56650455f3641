/**
 * Check, then run: the one place where a guarded tool call is decided.
 *
 * Independent of MCP and of Durable Objects: the transport adapter hands in the
 * call's runtime facts, an Authority and a LoopCounter, and gets back an
 * outcome to render. The action runs only after an ALLOW, and only here.
 */
import { type Authority, type Decision, faultDecision } from "./decision";
import { buildCheckRequest, type CallRuntime, type Intent } from "./intent";

export interface GuardedTool<Args, Output> {
	name: string;
	/**
	 * "action" tools execute after an ALLOW; a "query" only reports the verdict
	 * (it never runs anything, so a DENY is an answer, not an error).
	 */
	kind: "action" | "query";
	intent(args: Args): Intent;
	/** Present for tools that repeat work: the server counts their attempts. */
	loop?: {
		key(args: Args): string;
		/** What the agent says its retry count is: it may raise the count, never lower it. */
		claimedRetryCount(args: Args): number | undefined;
	};
	run?(args: Args, context: { decision: Decision; attempt?: number }): Output | Promise<Output>;
}

/** Reserves one attempt atomically and returns its number (1 for the first). */
export interface LoopCounter {
	reserveAttempt(toolName: string, key: string): number | Promise<number>;
}

export interface GuardDeps {
	authority: Authority;
	loops: LoopCounter;
	maxRetries: number;
	runtime: CallRuntime;
}

export type ActionOutcome<Output> =
	| { status: "executed"; output: Output }
	| { status: "failed"; error: string }
	| { status: "not_run" };

export interface GuardOutcome<Output> {
	decision: Decision;
	action: ActionOutcome<Output>;
	/** The server's attempt number, for loop tools. */
	attempt?: { number: number; retry_count: number; max_retries: number };
}

export const LOCAL_POLICY_VERSION = "edge-guard-local-v1";

export async function guardedCall<Args, Output>(
	tool: GuardedTool<Args, Output>,
	args: Args,
	deps: GuardDeps,
): Promise<GuardOutcome<Output>> {
	let intent: Intent;
	try {
		intent = tool.intent(args);
	} catch {
		return notRun(faultDecision(`Could not describe the ${tool.name} call to the authority.`, crypto.randomUUID(), 0));
	}

	const extraContext: Record<string, unknown> = {};
	let attempt: GuardOutcome<Output>["attempt"];
	if (tool.loop) {
		// Reserve before asking: parallel calls each get their own number, so
		// no interleaving of checks can let more than maxRetries through.
		let number: number;
		try {
			number = await deps.loops.reserveAttempt(tool.name, tool.loop.key(args));
		} catch {
			return notRun(faultDecision("The retry counter could not be updated, so the attempt was not allowed.", crypto.randomUUID(), 0));
		}
		const retryCount = Math.max(number - 1, tool.loop.claimedRetryCount(args) ?? 0);
		attempt = { number, retry_count: retryCount, max_retries: deps.maxRetries };
		extraContext.retry_count = retryCount;
		intent = { ...intent, constraints: [...(intent.constraints ?? []), `max_retries: ${deps.maxRetries}`] };
		if (retryCount >= deps.maxRetries) {
			return { decision: loopThresholdDecision(retryCount, deps), action: { status: "not_run" }, attempt };
		}
	}

	const request = buildCheckRequest(tool.name, intent, deps.runtime, extraContext);
	let decision: Decision;
	try {
		decision = await deps.authority.check(request);
	} catch {
		decision = faultDecision("The authority failed unexpectedly, so the action was not allowed.", crypto.randomUUID(), 0);
	}

	if (decision.verdict !== "ALLOW" || tool.kind === "query" || !tool.run) {
		return { decision, action: { status: "not_run" }, attempt };
	}
	try {
		const output = await tool.run(args, { decision, attempt: attempt?.number });
		return { decision, action: { status: "executed", output }, attempt };
	} catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		return { decision, action: { status: "failed", error: message.slice(0, 500) }, attempt };
	}
}

function notRun<Output>(decision: Decision): GuardOutcome<Output> {
	return { decision, action: { status: "not_run" } };
}

/** The server's own loop limit: it holds whatever the authority would say. */
function loopThresholdDecision(retryCount: number, deps: GuardDeps): Decision {
	return {
		verdict: "DEFER",
		decision: "DEFER",
		reason: `LOOP_THRESHOLD_EXCEEDED: this workflow has been retried ${retryCount} times in this session; the limit is ${deps.maxRetries} (MAX_RETRIES). A person should look before it runs again.`,
		request_id: crypto.randomUUID(),
		policy_version: deps.authority.mode === "simulated" ? `simulated-${LOCAL_POLICY_VERSION}` : LOCAL_POLICY_VERSION,
		risk_score: 55,
		high_risk: false,
		issues: [
			{
				code: "LOOP_THRESHOLD_EXCEEDED",
				severity: "MEDIUM",
				message: `Retry count ${retryCount} reached the server's limit of ${deps.maxRetries}`,
			},
		],
		questions: ["Why has this workflow failed repeatedly?", "Should the root cause be fixed before another retry?"],
		guardrails: [],
		source: "local-rule",
		latency_ms: 0,
	};
}
