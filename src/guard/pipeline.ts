/**
 * Check, then run: the one place where a guarded tool call is decided, and the
 * only place where its action runs (after an ALLOW).
 *
 * Independent of MCP and of Durable Objects: the transport adapter hands in the
 * call's runtime facts, an Authority, a LoopCounter and an ApprovalDesk, and
 * gets back a GuardReport to render. `guardedCall` reads as the policy: it runs
 * these steps in order, each a small function whose result the next one reads,
 * and the first step that refuses ends the call:
 *
 *   1. admit: the caller's rate limit (so a runaway agent never reaches Stage0)
 *   2. role rules: what the local policy forbids outright (no approval can lift it)
 *   3. a presented approval, used up atomically
 *   4. what the local policy permits only with an approval
 *   5. the loop counters (session and principal), reserved before anything is asked
 *      (for loop tools the local policy is asked again, with the server's retry count)
 *   6. the authority (Stage0 or the simulator), with the true role and approval
 *   7. the write-ahead audit record (if it cannot be written, nothing runs)
 *   8. the action, on ALLOW only
 *   9. its outcome, added to the audit record
 *
 * Shadow mode (deps.shadow) changes step 8 only: every step above runs and is
 * recorded as in enforce mode, then the action runs whatever the verdict, and
 * the report and the audit record say it would have been blocked. A record
 * that cannot be written still stops the action: the guard's own faults fail
 * closed in every mode.
 */
import { type ApprovalDesk, type ApprovalTicket, argumentsHash, type GrantedApproval } from "./approvals";
import { type AuditEntry, type AuditTrail, redactSecrets } from "./audit";
import type { PrincipalBudget } from "./budgets";
import { type Authority, type Decision, faultDecision, type PolicyIssue, type Refusal } from "./decision";
import type { ApprovalKind, Outcome, ToolKind } from "./enums";
import { buildCheckRequest, type CallRuntime, type Intent } from "./intent";
import { type DeterminingPolicy, describeCall, type LocalPolicy, type PolicyAnswer, policyWords } from "./local-policy";
import { normalizeLoopKey } from "./loop-key";
import { assertNever, err, ok, type Result } from "./result";

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
	kind: ToolKind;
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

/** The session's loop counter: reserves one attempt atomically and returns its number (1 for the first). */
export interface LoopCounter {
	reserveLoopAttempt(tool: string, key: string): number | Promise<number>;
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

/** What happened to the action: it ran (with its output), it ran and threw, or it did not run. */
export type ActionOutcome<Output> = { status: "executed"; output: Output } | { status: "failed"; error: string } | { status: "not_run" };

/** The server's attempt number of a loop tool, and the counts it was decided on. */
export interface LoopAttempt {
	number: number;
	/** What Stage0 is sent and the limit applies to: the larger of the two below. */
	retry_count: number;
	max_retries: number;
	/** Earlier attempts the server counted itself. */
	counted_retries: number;
	/** The agent's own retryCount, when it gave one (it can raise retry_count, never lower it). */
	claimed_retry_count?: number;
}

/** Where the steps before the action ended: the decision, and what the caller should know with it. */
export interface CallDecision {
	decision: Decision;
	/** The server's attempt number, for loop tools. */
	attempt?: LoopAttempt;
	/** A pending approval a person can grant for this exact call. */
	approval?: ApprovalTicket;
	/** Things the caller should know: ignored claims, an approval that was used. */
	notes: string[];
	/** For a rate-limited call: when to try again. */
	retry_after_seconds?: number;
}

/** What the guard reports about a call: its decision, and what happened to the action. */
export interface GuardReport<Output> extends CallDecision {
	action: ActionOutcome<Output>;
	/** Shadow mode only: whether enforce mode would have blocked this call. */
	would_block?: boolean;
}

type WithApproval<Args> = Args & { approvalId?: string };

/** One call on its way through the steps: what every step may read. */
interface Call<Args, Output> {
	tool: GuardedTool<Args, Output>;
	/** The arguments without approvalId. */
	args: Args;
	/** SHA-256 of the canonical arguments: what approvals and the audit trail are bound to. */
	argsHash: string;
	approvalId: string | undefined;
	deps: GuardDeps;
}

/** A call as the steps that need neither its argument nor its output types see it. */
type AnyCall = Call<Record<string, unknown>, unknown>;

/** A step that stopped the call: the decision to report, and what goes with it. */
type Stop = Omit<CallDecision, "notes"> & { notes?: string[] };

/** The result of a step before the action: its value for the next step, or where the call stops. */
type Step<T> = Result<T, Stop>;

type DescribedIntent = Intent & { side_effects: string[] };

export async function guardedCall<Args extends Record<string, unknown>, Output>(
	tool: GuardedTool<Args, Output>,
	callArgs: WithApproval<Args>,
	deps: GuardDeps,
): Promise<GuardReport<Output>> {
	const { approvalId, ...rest } = callArgs;
	const args = rest as unknown as Args;
	const call: Call<Args, Output> = { tool, args, argsHash: argumentsHash(args), approvalId, deps };

	const decided = await decide(call);
	const runnable = tool.kind === "action" && tool.run !== undefined;
	const allowed = decided.decision.verdict === "ALLOW";
	// Shadow mode changes this step only: the action runs whatever the verdict.
	const runs = runnable && (allowed || deps.shadow === true);
	const report: GuardReport<Output> = {
		...decided,
		action: { status: "not_run" },
		...(deps.shadow && runnable ? { would_block: !allowed } : {}),
	};

	const recorded = await recordAhead(call, report, runs ? "pending" : "not_run");
	if (!recorded.ok) return recorded.error;
	if (!runs) return report;
	const action = await runAction(call, report);
	const unrecorded = await recordOutcome(call, recorded.value, action);
	return { ...report, action, notes: unrecorded ? [...report.notes, unrecorded] : report.notes };
}

/** Steps 1 to 6: everything up to the verdict. Never runs the action. */
async function decide(call: AnyCall): Promise<CallDecision> {
	const described = describeIntent(call);
	if (!described.ok) return { ...described.error, notes: [] };
	let intent = described.value;
	const notes = claimNotes(call.tool.claims?.(call.args), call.deps.runtime.role);
	const stop = (step: Stop): CallDecision => ({ ...step, notes: [...notes, ...(step.notes ?? [])] });

	// 1. A runaway caller is stopped here, before it costs a Stage0 call.
	const admitted = await admit(call);
	if (!admitted.ok) return stop(admitted.error);

	// 2. What the local policy never permits. A broken policy set refuses everything.
	const rules = refuseForbidden(call, askPolicy(call, intent));
	if (!rules.ok) return stop(rules.error);

	// 3. An approval, if one is presented: used up now, whatever follows.
	const presented = await usePresentedApproval(call);
	if (!presented.ok) return stop(presented.error);
	const approval = presented.value?.approval;
	if (presented.value) notes.push(presented.value.note);

	// 4. What the local policy permits only with an approval.
	if (!approval) {
		const held = await holdForApproval(call, rules.value);
		if (!held.ok) return stop(held.error);
	}

	// 5. Loops: reserve before asking, so parallel calls each get their own number.
	const reserved = await reserveLoopAttempt(call);
	if (!reserved.ok) return stop(reserved.error);
	const attempt = reserved.value;
	if (attempt) {
		// The policy sees the server's count, never the agent's alone.
		const again = refuseForbidden(call, askPolicy(call, intent, attempt.retry_count));
		if (!again.ok) return stop({ ...again.error, attempt });
		if (!approval) {
			const held = await holdForApproval(call, again.value);
			if (!held.ok) return stop({ ...held.error, attempt });
		}
		intent = { ...intent, constraints: [...(intent.constraints ?? []), `max_retries: ${call.deps.maxRetries}`] };
		if (!approval) {
			const underLimit = await checkLoopLimit(call, attempt);
			if (!underLimit.ok) return stop(underLimit.error);
		}
	}

	// 6. The authority has the last word, also over an approval.
	return stop(await askAuthority(call, intent, attempt, approval));
}

/** What the tool says the call would do, with its declared side effects by default. */
function describeIntent(call: AnyCall): Step<DescribedIntent> {
	try {
		const raw = call.tool.intent(call.args);
		return ok({ ...raw, side_effects: raw.side_effects ?? [...call.tool.sideEffects] });
	} catch {
		return err({ decision: serverFault(call.deps, `Could not describe the ${call.tool.name} call to the authority.`) });
	}
}

/** Step 1: the principal's rate limit, across its sessions. */
async function admit(call: AnyCall): Promise<Step<void>> {
	const { deps } = call;
	if (!deps.budget) return ok(undefined);
	let admission: Awaited<ReturnType<PrincipalBudget["admitCall"]>>;
	try {
		admission = await deps.budget.admitCall();
	} catch {
		return err({ decision: serverFault(deps, "The rate limiter could not be reached, so the call was not allowed.") });
	}
	if (admission.ok) return ok(undefined);
	const { limit, retryAfterSeconds } = admission.error;
	const decision = localDecision(deps, {
		verdict: "DEFER",
		code: "RATE_LIMITED",
		reason: `RATE_LIMITED: ${deps.runtime.principal} made ${limit} calls in the last minute (RATE_LIMIT_PER_MINUTE); retry after ${retryAfterSeconds} seconds.`,
		severity: "MEDIUM",
		message: `Limit of ${limit} calls per minute reached`,
	});
	return err({ decision, retry_after_seconds: retryAfterSeconds });
}

/** The local policy's answer for this call, with the server's retry count once it is known. */
function askPolicy(call: AnyCall, intent: DescribedIntent, retryCount?: number): PolicyAnswer {
	const { tool, args, deps } = call;
	return deps.policy.decide(
		describeCall({
			tool,
			sideEffects: intent.side_effects,
			args,
			context: intent.context,
			caller: deps.runtime,
			at: Date.now(),
			retryCount,
		}),
	);
}

/** Steps 2 (and 5, again): what no approval can lift. Passes on the answer when it is not a refusal outright. */
function refuseForbidden(call: AnyCall, answer: PolicyAnswer): Step<Extract<PolicyAnswer, { kind: "permitted" | "needs-approval" }>> {
	switch (answer.kind) {
		case "permitted":
		case "needs-approval":
			return ok(answer);
		case "error":
			return err({ decision: policyErrorDecision(call.deps, answer.reason) });
		case "forbidden": {
			const reason =
				answer.policies.length > 0 ? `Refused by ${policyWords(answer.policies)}.` : `Refused by the local policy: ${answer.reason}.`;
			return err({
				decision: localDecision(call.deps, {
					verdict: "DENY",
					code: "LOCAL_POLICY_FORBIDS",
					reason,
					severity: "HIGH",
					policies: answer.policies,
				}),
			});
		}
		default:
			return assertNever(answer);
	}
}

/** Step 3: a presented approval, checked and used up in one step (or the call is refused). */
async function usePresentedApproval(call: AnyCall): Promise<Step<{ approval: GrantedApproval; note: string } | undefined>> {
	const { approvalId, deps, tool } = call;
	if (approvalId === undefined) return ok(undefined);
	const refuse = (reason: string) =>
		err({ decision: localDecision(deps, { verdict: "DENY", code: "APPROVAL_NOT_ACCEPTED", reason, severity: "HIGH" }) });
	if (!deps.approvals || tool.kind !== "action") return refuse("Approvals are not accepted for this tool.");
	const used = await deps.approvals
		.consume(approvalId, { principal: deps.runtime.principal, tool: tool.name, argsHash: call.argsHash })
		.catch(() => err("the approval store could not be reached"));
	if (!used.ok) return refuse(`Approval ${approvalId} was not accepted: ${used.error}.`);
	const approval = used.value;
	return ok({ approval, note: `Approval ${approval.id} by ${approval.approved_by} used (it cannot be used again).` });
}

/** Steps 4 (and 5, again): what the local policy permits only with an approval is held, and a person asked. */
async function holdForApproval(
	call: AnyCall,
	answer: Extract<PolicyAnswer, { kind: "permitted" | "needs-approval" }>,
): Promise<Step<void>> {
	if (answer.kind === "permitted") return ok(undefined);
	const decision = localDecision(call.deps, {
		verdict: "DEFER",
		code: "APPROVAL_REQUIRED",
		reason: `Held by ${policyWords(answer.policies)}.`,
		severity: "MEDIUM",
		questions: ["Has a person other than the requester approved this exact change?"],
		policies: answer.policies,
	});
	const offered = await offerApproval(call, decision, "rule");
	return err({ decision, approval: offered.ticket, notes: offered.notes });
}

/**
 * Step 5: reserves this attempt of a loop tool in the session's count and the
 * principal's rolling count (both apply: a new session does not reset a loop).
 * Undefined for tools that do not loop.
 */
async function reserveLoopAttempt(call: AnyCall): Promise<Step<LoopAttempt | undefined>> {
	const { tool, args, deps } = call;
	if (!tool.loop) return ok(undefined);
	const counterFault = () =>
		err({ decision: serverFault(deps, "The retry counter could not be updated, so the attempt was not allowed.") });
	let key: string;
	try {
		// Variants a person reads as the same id share one budget (see loop-key.ts).
		key = normalizeLoopKey(tool.loop.key(args));
	} catch {
		return counterFault();
	}
	if (key === "") {
		const reason =
			"The workflow id is empty once invisible, control and formatting characters are removed; use an id with visible characters.";
		return err({ decision: localDecision(deps, { verdict: "DENY", code: "INVALID_LOOP_KEY", reason, severity: "HIGH" }) });
	}
	let number: number;
	try {
		const [inSession, acrossSessions] = await Promise.all([
			deps.loops.reserveLoopAttempt(tool.name, key),
			deps.budget?.reserveLoopAttempt(tool.name, key) ?? 0,
		]);
		number = Math.max(inSession, acrossSessions);
	} catch {
		return counterFault();
	}
	const counted = number - 1;
	const claimed = tool.loop.claimedRetryCount(args);
	return ok({
		number,
		retry_count: Math.max(counted, claimed ?? 0),
		max_retries: deps.maxRetries,
		counted_retries: counted,
		...(claimed !== undefined ? { claimed_retry_count: claimed } : {}),
	});
}

/** Step 5, last: the server's own loop limit holds whatever the authority would say (an approval lifts it). */
async function checkLoopLimit(call: AnyCall, attempt: LoopAttempt): Promise<Step<void>> {
	if (attempt.retry_count < call.deps.maxRetries) return ok(undefined);
	const decision = loopThresholdDecision(call.deps, attempt);
	const offered = await offerApproval(call, decision, "loop");
	return err({ decision, attempt, approval: offered.ticket, notes: offered.notes });
}

/** Step 6: the authority decides on the true facts; a refusal it could lift with an approval offers one. */
async function askAuthority(
	call: AnyCall,
	intent: DescribedIntent,
	attempt: LoopAttempt | undefined,
	approval: GrantedApproval | undefined,
): Promise<Stop> {
	const { tool, deps } = call;
	const request = buildCheckRequest({
		toolName: tool.name,
		intent,
		runtime: deps.runtime,
		extraContext: attempt ? { retry_count: attempt.retry_count } : {},
		approval,
		argsHash: call.argsHash,
	});
	let decision: Decision;
	try {
		decision = await deps.authority.check(request);
	} catch {
		decision = serverFault(deps, "The authority failed unexpectedly, so the action was not allowed.");
	}
	const refusedByAuthority = decision.verdict !== "ALLOW" && decision.decision !== "ERROR";
	const offered = refusedByAuthority && !approval ? await offerApproval(call, decision, "authority") : undefined;
	return { decision, attempt, approval: offered?.ticket, notes: offered?.notes };
}

/** Step 7: the decision is on record before anything happens; the record's id, or the report of a call stopped here. */
async function recordAhead<Output>(
	call: Call<Record<string, unknown>, Output>,
	report: GuardReport<Output>,
	outcome: Outcome,
): Promise<Result<number | undefined, GuardReport<Output>>> {
	const { deps } = call;
	if (!deps.audit) return ok(undefined);
	try {
		return ok(await deps.audit.record(auditEntry(call, report, outcome)));
	} catch {
		const fault = serverFault(
			deps,
			"The decision could not be written to the audit trail, so the action was not run.",
			report.decision.request_id,
		);
		// In shadow mode too: the guard's own faults fail closed.
		return err({
			...report,
			decision: fault,
			action: { status: "not_run" },
			would_block: report.would_block === undefined ? undefined : true,
		});
	}
}

/** Step 8: only now does anything happen. */
async function runAction<Args extends Record<string, unknown>, Output>(
	call: Call<Args, Output>,
	report: GuardReport<Output>,
): Promise<ActionOutcome<Output>> {
	const { tool } = call;
	if (!tool.run) return { status: "not_run" };
	try {
		return { status: "executed", output: await tool.run(call.args, { decision: report.decision, attempt: report.attempt?.number }) };
	} catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		return { status: "failed", error: message.slice(0, 500) };
	}
}

/** Step 9: the action's outcome, added to its record. A failure here cannot undo the action: it returns a note for the caller. */
async function recordOutcome(call: AnyCall, auditId: number | undefined, action: ActionOutcome<unknown>): Promise<string | undefined> {
	if (!call.deps.audit || auditId === undefined) return undefined;
	try {
		await call.deps.audit.complete(
			auditId,
			action.status === "executed" ? "executed" : "failed",
			action.status === "failed" ? action.error : undefined,
		);
		return undefined;
	} catch {
		return "The action's outcome could not be added to the audit record.";
	}
}

/**
 * Opens an approval request a person can grant for this exact call. In shadow
 * mode the call runs anyway: a request for approval would only ask people to
 * approve the past.
 */
async function offerApproval(call: AnyCall, decision: Decision, kind: ApprovalKind): Promise<{ ticket?: ApprovalTicket; notes: string[] }> {
	const { deps, tool } = call;
	if (!deps.approvals || tool.kind !== "action" || deps.shadow) return { notes: [] };
	try {
		const { superseded, ...ticket } = await deps.approvals.open({
			principal: deps.runtime.principal,
			role: deps.runtime.role,
			tool: tool.name,
			args: call.args,
			argsHash: call.argsHash,
			decision,
			kind,
		});
		const notes = (superseded?.ids ?? []).map(
			(id) =>
				`Your oldest pending approval request ${id} was expired: at most ${superseded!.limit} may be pending at once (MAX_PENDING_APPROVALS_PER_PRINCIPAL).`,
		);
		return { ticket, notes };
	} catch {
		return { notes: ["No approval request could be recorded; try again later."] };
	}
}

function auditEntry(call: AnyCall, report: GuardReport<unknown>, outcome: Outcome): AuditEntry {
	const { deps } = call;
	const d = report.decision;
	return {
		at: Date.now(),
		request_id: d.request_id,
		policy_version: d.policy_version,
		source: d.source,
		principal: deps.runtime.principal,
		role: deps.runtime.role,
		session_id: deps.runtime.sessionId,
		tool: call.tool.name,
		args_sha256: call.argsHash,
		...(deps.auditArguments ? { arguments: redactSecrets(call.args) as Record<string, unknown> } : {}),
		verdict: d.verdict,
		decision: d.decision,
		reason: d.reason,
		risk_score: d.risk_score,
		latency_ms: d.latency_ms,
		outcome,
		local_policy: deps.policy.id,
		...(call.approvalId ? { approval_id: call.approvalId } : {}),
		...(report.would_block !== undefined ? { mode: "shadow" as const, would_block: report.would_block } : {}),
	};
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
function serverFault(deps: GuardDeps, reason: string, requestId: string = crypto.randomUUID()): Refusal {
	const decision = faultDecision(reason, requestId, 0);
	return deps.authority.mode === "simulated" ? { ...decision, policy_version: `simulated-${decision.policy_version}` } : decision;
}

/** The policy_version of a decision made on this server (local policy, protocol refusals), marked simulated in simulated mode. */
export function localPolicyVersion(deps: Pick<GuardDeps, "authority" | "policy">): string {
	return deps.authority.mode === "simulated" ? `simulated-${deps.policy.id}` : deps.policy.id;
}

/** A local policy set that cannot be used refuses every call, and says why. */
function policyErrorDecision(deps: GuardDeps, reason: string): Refusal {
	return {
		...faultDecision(`The local policy set ${deps.policy.id} cannot be used, so nothing is allowed: ${reason}`, crypto.randomUUID(), 0),
		policy_version: localPolicyVersion(deps),
		issues: [{ code: "LOCAL_POLICY_ERROR", severity: "HIGH", message: reason }],
		source: "local-rule",
	};
}

/** A refusal made on this server, before the authority is asked. */
interface LocalRefusal {
	verdict: "DENY" | "DEFER";
	/** The issue code (RATE_LIMITED, LOCAL_POLICY_FORBIDS, ...). */
	code: string;
	reason: string;
	severity: PolicyIssue["severity"];
	questions?: string[];
	/** The issue's message, when it is not the reason. */
	message?: string;
	/** A policy refusal lists every determining policy as its own issue. */
	policies?: readonly DeterminingPolicy[];
}

/** Local decisions carry the local policy set's id (marked simulated in simulated mode). */
function localDecision(deps: GuardDeps, refusal: LocalRefusal): Refusal {
	const { verdict, code, reason, severity, questions = [], message = reason, policies = [] } = refusal;
	return {
		verdict,
		decision: verdict === "DENY" ? "NO_GO" : "DEFER",
		reason,
		request_id: crypto.randomUUID(),
		policy_version: localPolicyVersion(deps),
		risk_score: verdict === "DENY" ? 80 : 60,
		high_risk: verdict === "DENY",
		issues:
			policies.length > 0 ? policies.map((p) => ({ code, severity, message: `${p.id}: ${p.reason}` })) : [{ code, severity, message }],
		questions,
		guardrails: [],
		source: "local-rule",
		latency_ms: 0,
	};
}

/**
 * The server's own loop limit. The reason tells the server's count from the
 * agent's claim: a claim can raise the count, and then it is the agent's
 * number, not one the server counted.
 */
function loopThresholdDecision(deps: GuardDeps, attempt: LoopAttempt): Refusal {
	const counted = attempt.counted_retries;
	const claimed = attempt.claimed_retry_count;
	const where = `per session and across all of ${deps.runtime.principal}'s sessions`;
	const limit = `the limit is ${deps.maxRetries} (MAX_RETRIES)`;
	const byClaim = claimed !== undefined && claimed > counted;
	const what = byClaim
		? `the agent says this workflow has been retried ${claimed} times (its retryCount); the server counted ${counted} earlier ${counted === 1 ? "attempt" : "attempts"} (${where}). The higher number counts, and ${limit}`
		: `this workflow has been retried ${counted} times (counted by the server, ${where}); ${limit}`;
	const retryCount = byClaim ? claimed : counted;
	return localDecision(deps, {
		verdict: "DEFER",
		code: "LOOP_THRESHOLD_EXCEEDED",
		reason: `LOOP_THRESHOLD_EXCEEDED: ${what}. A person should look before it runs again.`,
		severity: "MEDIUM",
		questions: ["Why has this workflow failed repeatedly?", "Should the root cause be fixed before another retry?"],
		message: byClaim
			? `Retry count ${retryCount} (claimed by the agent; the server counted ${counted}) reached the server's limit of ${deps.maxRetries}`
			: `Retry count ${retryCount} reached the server's limit of ${deps.maxRetries}`,
	});
}
