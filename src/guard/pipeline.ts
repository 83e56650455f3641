/**
 * Check, then run: the one place where a guarded tool call is decided.
 *
 * Independent of MCP and of Durable Objects: the transport adapter hands in the
 * call's runtime facts, an Authority, a LoopCounter and an ApprovalDesk, and
 * gets back an outcome to render. The action runs only after an ALLOW, and
 * only here. The order of the steps is the policy:
 *
 *   1. the caller's rate limit (so a runaway agent never reaches Stage0)
 *   2. the local policy: what it forbids outright (no approval can lift it)
 *   3. a presented approval, used up atomically
 *   4. the local policy: what it permits only with an approval
 *   5. the loop counters (session and principal), reserved before anything is asked
 *      (for loop tools the local policy is asked again, with the server's retry count)
 *   6. the authority (Stage0 or the simulator), with the true role and approval
 *   7. the audit record, written before the action (if it cannot be written, nothing runs)
 *   8. the action, on ALLOW only, and then its outcome in the audit record
 *
 * Shadow mode (deps.shadow) changes step 8 only: every step above runs and is
 * recorded as in enforce mode, then the action runs whatever the verdict, and
 * the outcome and the audit record say it would have been blocked. A record
 * that cannot be written still stops the action: the guard's own faults fail
 * closed in every mode.
 */
import { type ApprovalDesk, type ApprovalTicket, argumentsHash, type GrantedApproval } from "./approvals";
import { type AuditEntry, type AuditTrail, redactSecrets } from "./audit";
import type { PrincipalBudget } from "./budgets";
import { type Authority, type Decision, faultDecision, type PolicyIssue } from "./decision";
import { buildCheckRequest, type CallRuntime, type Intent } from "./intent";
import { describeCall, type LocalPolicy, type PolicyOutcome, policyWords } from "./local-policy";
import { normalizeLoopKey } from "./loop-key";

/** What a tool's MCP annotations say about it. A hint that is absent is unknown, never the safe value. */
export interface ToolAnnotations {
	readOnlyHint?: boolean;
	destructiveHint?: boolean;
	idempotentHint?: boolean;
	openWorldHint?: boolean;
}

export interface GuardedTool<Args, Output> {
	/** The name as exposed to MCP clients (an upstream's tools are `<upstream>.<tool>`). */
	name: string;
	/** Where the tool runs: "builtin" for this server's own tools, else the upstream's name. Default "builtin". */
	server?: string;
	/** The tool's MCP annotations, used to classify it; a tool without any is treated as having side effects. */
	annotations?: ToolAnnotations;
	/**
	 * "action" tools execute after an ALLOW; a "query" only reports the verdict
	 * (it never runs anything, so a DENY is an answer, not an error).
	 */
	kind: "action" | "query";
	/** The side effects the tool always has (a query may ask about others). */
	sideEffects: readonly string[];
	intent(args: Args): Intent;
	/** What the agent claims about itself in the arguments; checked, never trusted. */
	claims?(args: Args): { role?: string; approvalStatus?: string };
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
	/** The local policy set (restrict only): asked before the authority, and named in every audit record. */
	policy: LocalPolicy;
	loops: LoopCounter;
	maxRetries: number;
	runtime: CallRuntime;
	/** Without a desk, refusals offer no approval and approvalIds are refused. */
	approvals?: ApprovalDesk;
	/** Limits across the principal's sessions (rate limit, rolling loop budget). */
	budget?: PrincipalBudget;
	/** Every decision is written here before anything runs. */
	audit?: AuditTrail;
	/** Store (redacted) arguments in the audit trail, not only their hash. */
	auditArguments?: boolean;
	/** Shadow mode: decide and record as usual, then run regardless (see the top of this file). */
	shadow?: boolean;
}

export type ActionOutcome<Output> = { status: "executed"; output: Output } | { status: "failed"; error: string } | { status: "not_run" };

export interface GuardOutcome<Output> {
	decision: Decision;
	action: ActionOutcome<Output>;
	/** The server's attempt number, for loop tools. */
	attempt?: {
		number: number;
		/** What Stage0 is sent and the limit applies to: the larger of the two below. */
		retry_count: number;
		max_retries: number;
		/** Earlier attempts the server counted itself. */
		counted_retries: number;
		/** The agent's own retryCount, when it gave one (it can raise retry_count, never lower it). */
		claimed_retry_count?: number;
	};
	/** A pending approval a person can grant for this exact call. */
	approval?: ApprovalTicket;
	/** Things the caller should know: ignored claims, an approval that was used. */
	notes: string[];
	/** For a rate-limited call: when to try again. */
	retry_after_seconds?: number;
	/** Shadow mode only: whether enforce mode would have blocked this call. */
	would_block?: boolean;
}

type WithApproval<Args> = Args & { approvalId?: string };

export async function guardedCall<Args extends Record<string, unknown>, Output>(
	tool: GuardedTool<Args, Output>,
	callArgs: WithApproval<Args>,
	deps: GuardDeps,
): Promise<GuardOutcome<Output>> {
	const { approvalId, ...rest } = callArgs;
	const args = rest as unknown as Args;
	const argsHash = argumentsHash(args);
	const decided = await decideCall(tool, args, approvalId, argsHash, deps);
	const runnable = tool.kind === "action" && tool.run !== undefined;
	const allowed = decided.decision.verdict === "ALLOW";
	const runs = runnable && (allowed || deps.shadow === true);
	if (deps.shadow && runnable) decided.would_block = !allowed;

	// 7. Write-ahead: the decision is on record before anything happens.
	let auditId: number | undefined;
	if (deps.audit) {
		try {
			auditId = await deps.audit.record(auditEntry(tool.name, decided, argsHash, args, deps, runs ? "pending" : "not_run", approvalId));
		} catch {
			const fault = serverFault(
				deps,
				"The decision could not be written to the audit trail, so the action was not run.",
				decided.decision.request_id,
			);
			return { ...decided, decision: fault, action: { status: "not_run" }, would_block: deps.shadow && runnable ? true : undefined };
		}
	}
	if (!runs) return decided;

	// 8. Only now does anything happen.
	let action: ActionOutcome<Output>;
	try {
		action = { status: "executed", output: await tool.run!(args, { decision: decided.decision, attempt: decided.attempt?.number }) };
	} catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		action = { status: "failed", error: message.slice(0, 500) };
	}
	if (deps.audit && auditId !== undefined) {
		await deps.audit
			.complete(auditId, action.status === "executed" ? "executed" : "failed", action.status === "failed" ? action.error : undefined)
			.catch(() => decided.notes.push("The action's outcome could not be added to the audit record."));
	}
	return { ...decided, action };
}

function auditEntry(
	toolName: string,
	outcome: GuardOutcome<unknown>,
	argsHash: string,
	args: Record<string, unknown>,
	deps: GuardDeps,
	status: AuditEntry["outcome"],
	approvalId: string | undefined,
): AuditEntry {
	const d = outcome.decision;
	return {
		at: Date.now(),
		request_id: d.request_id,
		policy_version: d.policy_version,
		source: d.source,
		principal: deps.runtime.principal,
		role: deps.runtime.role,
		session_id: deps.runtime.sessionId,
		tool: toolName,
		args_sha256: argsHash,
		...(deps.auditArguments ? { arguments: redactSecrets(args) as Record<string, unknown> } : {}),
		verdict: d.verdict,
		decision: d.decision,
		reason: d.reason,
		risk_score: d.risk_score,
		latency_ms: d.latency_ms,
		outcome: status,
		local_policy: deps.policy.id,
		...(approvalId ? { approval_id: approvalId } : {}),
		...(outcome.would_block !== undefined ? { mode: "shadow" as const, would_block: outcome.would_block } : {}),
	};
}

/** Steps 1 to 6: everything up to the verdict. Never runs the action. */
async function decideCall<Args extends Record<string, unknown>, Output>(
	tool: GuardedTool<Args, Output>,
	args: Args,
	approvalId: string | undefined,
	argsHash: string,
	deps: GuardDeps,
): Promise<GuardOutcome<Output>> {
	const notes: string[] = [];
	const outcome = (decision: Decision, extra: Partial<GuardOutcome<Output>> = {}): GuardOutcome<Output> => ({
		decision,
		action: { status: "not_run" },
		notes,
		...extra,
	});

	let intent: Intent & { side_effects: string[] };
	try {
		const raw = tool.intent(args);
		intent = { ...raw, side_effects: raw.side_effects ?? [...tool.sideEffects] };
	} catch {
		return outcome(serverFault(deps, `Could not describe the ${tool.name} call to the authority.`));
	}
	notes.push(...claimNotes(tool.claims?.(args), deps.runtime.role));

	const offerApproval = async (decision: Decision, kind: "authority" | "rule" | "loop") => {
		// In shadow mode the call runs anyway: a request for approval would only ask people to approve the past.
		if (!deps.approvals || tool.kind !== "action" || deps.shadow) return undefined;
		try {
			const { superseded, ...ticket } = await deps.approvals.open({
				principal: deps.runtime.principal,
				role: deps.runtime.role,
				tool: tool.name,
				args,
				argsHash,
				decision,
				kind,
			});
			for (const id of superseded?.ids ?? []) {
				notes.push(
					`Your oldest pending approval request ${id} was expired: at most ${superseded!.limit} may be pending at once (MAX_PENDING_APPROVALS_PER_PRINCIPAL).`,
				);
			}
			return ticket;
		} catch {
			notes.push("No approval request could be recorded; try again later.");
			return undefined;
		}
	};

	// 1. A runaway caller is stopped here, before it costs a Stage0 call.
	if (deps.budget) {
		let admission: Awaited<ReturnType<PrincipalBudget["admitCall"]>>;
		try {
			admission = await deps.budget.admitCall();
		} catch {
			return outcome(serverFault(deps, "The rate limiter could not be reached, so the call was not allowed."));
		}
		if (!admission.ok) {
			const reason = `RATE_LIMITED: ${deps.runtime.principal} made ${admission.limit} calls in the last minute (RATE_LIMIT_PER_MINUTE); retry after ${admission.retryAfterSeconds} seconds.`;
			const decision = localDecision(
				deps,
				"DEFER",
				"RATE_LIMITED",
				reason,
				"MEDIUM",
				[],
				`Limit of ${admission.limit} calls per minute reached`,
			);
			return outcome(decision, { retry_after_seconds: admission.retryAfterSeconds });
		}
	}

	// 2. What the local policy never permits. A broken policy set refuses everything.
	const askPolicy = (retryCount?: number) =>
		deps.policy.decide(describeCall(tool, intent.side_effects, args, intent.context, deps.runtime, Date.now(), retryCount));
	let policy = askPolicy();
	const refusedOutright = (p: PolicyOutcome) => {
		if (p.kind === "error") return outcome(policyErrorDecision(deps, p.reason));
		if (p.kind === "forbidden") {
			const reason = p.policies.length > 0 ? `Refused by ${policyWords(p.policies)}.` : `Refused by the local policy: ${p.reason}.`;
			return outcome(localDecision(deps, "DENY", "LOCAL_POLICY_FORBIDS", reason, "HIGH", [], undefined, p.policies));
		}
		return undefined;
	};
	const holdForApproval = async (p: PolicyOutcome) => {
		if (p.kind !== "needs-approval") return undefined;
		const decision = localDecision(
			deps,
			"DEFER",
			"APPROVAL_REQUIRED",
			`Held by ${policyWords(p.policies)}.`,
			"MEDIUM",
			["Has a person other than the requester approved this exact change?"],
			undefined,
			p.policies,
		);
		return outcome(decision, { approval: await offerApproval(decision, "rule") });
	};
	const forbidden = refusedOutright(policy);
	if (forbidden) return forbidden;

	// 3. An approval, if one is presented: used up now, whatever follows.
	let approval: GrantedApproval | undefined;
	if (approvalId !== undefined) {
		if (!deps.approvals || tool.kind !== "action") {
			return outcome(localDecision(deps, "DENY", "APPROVAL_NOT_ACCEPTED", "Approvals are not accepted for this tool.", "HIGH"));
		}
		const used = await deps.approvals
			.consume(approvalId, { principal: deps.runtime.principal, tool: tool.name, argsHash })
			.catch(() => ({ ok: false as const, reason: "the approval store could not be reached" }));
		if (!used.ok) {
			return outcome(
				localDecision(deps, "DENY", "APPROVAL_NOT_ACCEPTED", `Approval ${approvalId} was not accepted: ${used.reason}.`, "HIGH"),
			);
		}
		approval = used.approval;
		notes.push(`Approval ${approval.id} by ${approval.approved_by} used (it cannot be used again).`);
	}

	// 4. What the local policy permits only with an approval.
	if (!approval) {
		const held = await holdForApproval(policy);
		if (held) return held;
	}

	// 5. Loops: reserve before asking, so parallel calls each get their own number.
	// The session's count and the principal's rolling count both apply: a new
	// session does not reset a loop.
	const extraContext: Record<string, unknown> = {};
	let attempt: GuardOutcome<Output>["attempt"];
	if (tool.loop) {
		let number: number;
		let key: string;
		try {
			// Variants a person reads as the same id share one budget (see loop-key.ts).
			key = normalizeLoopKey(tool.loop.key(args));
		} catch {
			return outcome(serverFault(deps, "The retry counter could not be updated, so the attempt was not allowed."));
		}
		if (key === "") {
			const reason =
				"The workflow id is empty once invisible, control and formatting characters are removed; use an id with visible characters.";
			return outcome(localDecision(deps, "DENY", "INVALID_LOOP_KEY", reason, "HIGH"));
		}
		try {
			const [inSession, acrossSessions] = await Promise.all([
				deps.loops.reserveAttempt(tool.name, key),
				deps.budget?.reserveLoopAttempt(tool.name, key) ?? 0,
			]);
			number = Math.max(inSession, acrossSessions);
		} catch {
			return outcome(serverFault(deps, "The retry counter could not be updated, so the attempt was not allowed."));
		}
		const counted = number - 1;
		const claimed = tool.loop.claimedRetryCount(args);
		const retryCount = Math.max(counted, claimed ?? 0);
		attempt = {
			number,
			retry_count: retryCount,
			max_retries: deps.maxRetries,
			counted_retries: counted,
			...(claimed !== undefined ? { claimed_retry_count: claimed } : {}),
		};
		extraContext.retry_count = retryCount;
		// The policy sees the server's count, never the agent's alone.
		policy = askPolicy(retryCount);
		const refused = refusedOutright(policy) ?? (approval ? undefined : await holdForApproval(policy));
		if (refused) return { ...refused, attempt };
		intent = { ...intent, constraints: [...(intent.constraints ?? []), `max_retries: ${deps.maxRetries}`] };
		if (retryCount >= deps.maxRetries && !approval) {
			const decision = loopThresholdDecision(counted, claimed, deps);
			return outcome(decision, { attempt, approval: await offerApproval(decision, "loop") });
		}
	}

	// 6. The authority has the last word, also over an approval.
	const request = buildCheckRequest(tool.name, intent, deps.runtime, extraContext, approval, argsHash);
	let decision: Decision;
	try {
		decision = await deps.authority.check(request);
	} catch {
		decision = serverFault(deps, "The authority failed unexpectedly, so the action was not allowed.");
	}

	const refusedByAuthority = decision.verdict !== "ALLOW" && decision.decision !== "ERROR";
	const ticket = refusedByAuthority && !approval ? await offerApproval(decision, "authority") : undefined;
	return outcome(decision, { attempt, approval: ticket });
}

function claimNotes(claims: { role?: string; approvalStatus?: string } | undefined, role: string): string[] {
	const notes: string[] = [];
	if (claims?.role !== undefined && claims.role !== role) {
		notes.push(`claimed role '${claims.role}' ignored: authenticated as '${role}'`);
	}
	if (claims?.approvalStatus !== undefined && claims.approvalStatus !== "none") {
		notes.push(`claimed approval status '${claims.approvalStatus}' ignored: only an approvalId granted by a person counts`);
	}
	return notes;
}

/** A failure of the server's own parts: fail closed, and say which mode decided. */
function serverFault(deps: GuardDeps, reason: string, requestId: string = crypto.randomUUID()): Decision {
	const decision = faultDecision(reason, requestId, 0);
	return deps.authority.mode === "simulated" ? { ...decision, policy_version: `simulated-${decision.policy_version}` } : decision;
}

/** Local decisions carry the local policy set's id (marked simulated in simulated mode). */
/** The policy_version of a decision made on this server (local policy, protocol refusals). */
export function localPolicyVersion(deps: Pick<GuardDeps, "authority" | "policy">): string {
	return deps.authority.mode === "simulated" ? `simulated-${deps.policy.id}` : deps.policy.id;
}

/** A local policy set that cannot be used refuses every call, and says why. */
function policyErrorDecision(deps: GuardDeps, reason: string): Decision {
	return {
		...faultDecision(`The local policy set ${deps.policy.id} cannot be used, so nothing is allowed: ${reason}`, crypto.randomUUID(), 0),
		policy_version: localPolicyVersion(deps),
		issues: [{ code: "LOCAL_POLICY_ERROR", severity: "HIGH", message: reason }],
		source: "local-rule",
	};
}

function localDecision(
	deps: GuardDeps,
	verdict: "DENY" | "DEFER",
	code: string,
	reason: string,
	severity: PolicyIssue["severity"],
	questions: string[] = [],
	message = reason,
	policies: readonly { id: string; reason: string }[] = [],
): Decision {
	return {
		verdict,
		decision: verdict === "DENY" ? "NO_GO" : "DEFER",
		reason,
		request_id: crypto.randomUUID(),
		policy_version: localPolicyVersion(deps),
		risk_score: verdict === "DENY" ? 80 : 60,
		high_risk: verdict === "DENY",
		// A policy refusal lists every determining policy as its own issue.
		issues:
			policies.length > 0 ? policies.map((p) => ({ code, severity, message: `${p.id}: ${p.reason}` })) : [{ code, severity, message }],
		questions,
		guardrails: [],
		source: "local-rule",
		latency_ms: 0,
	};
}

/**
 * The server's own loop limit: it holds whatever the authority would say. The
 * reason tells the server's count from the agent's claim: a claim can raise the
 * count, and then it is the agent's number, not one the server counted.
 */
function loopThresholdDecision(counted: number, claimed: number | undefined, deps: GuardDeps): Decision {
	const where = `per session and across all of ${deps.runtime.principal}'s sessions`;
	const limit = `the limit is ${deps.maxRetries} (MAX_RETRIES)`;
	const byClaim = claimed !== undefined && claimed > counted;
	const what = byClaim
		? `the agent says this workflow has been retried ${claimed} times (its retryCount); the server counted ${counted} earlier ${counted === 1 ? "attempt" : "attempts"} (${where}). The higher number counts, and ${limit}`
		: `this workflow has been retried ${counted} times (counted by the server, ${where}); ${limit}`;
	const retryCount = byClaim ? claimed : counted;
	return localDecision(
		deps,
		"DEFER",
		"LOOP_THRESHOLD_EXCEEDED",
		`LOOP_THRESHOLD_EXCEEDED: ${what}. A person should look before it runs again.`,
		"MEDIUM",
		["Why has this workflow failed repeatedly?", "Should the root cause be fixed before another retry?"],
		byClaim
			? `Retry count ${retryCount} (claimed by the agent; the server counted ${counted}) reached the server's limit of ${deps.maxRetries}`
			: `Retry count ${retryCount} reached the server's limit of ${deps.maxRetries}`,
	);
}
