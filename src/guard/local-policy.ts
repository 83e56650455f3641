/**
 * What the pipeline asks the local policy, applied before Stage0 is asked, in
 * every mode. It can only restrict: Stage0 may add restrictions on top, but
 * nothing it answers can lift these (defense in depth).
 *
 * The policy itself is a Cedar policy set (src/policy/ evaluates it; the
 * default is policies/default.cedar). The core knows only this interface and
 * how a call is described to it, so it stays free of the engine.
 */
import type { ToolAnnotations } from "./pipeline";

/** Who is calling, as authenticated (never what the agent says). */
export interface PolicyCaller {
	principal: string;
	role: string;
	/** Only when the caller's identity has any. */
	groups?: readonly string[];
}

/** The tool as the policy sees it: where it runs and what it says it does. */
export interface PolicyTool {
	/** The name as exposed to MCP clients. */
	name: string;
	/** "builtin" or the upstream's name. */
	server: string;
	/** Absent hints are unknown: the policy gets the unsafe value (not read-only, destructive). */
	annotations?: ToolAnnotations;
	/** For a call, the intent's side effects (what is asked); for tools/list, the tool's declared ones. */
	sideEffects: readonly string[];
}

export interface PolicyCall {
	caller: PolicyCaller;
	tool: PolicyTool;
	/** The call's arguments (the engine keeps what it can represent and leaves the rest out). */
	arguments: Record<string, unknown>;
	/** The environment the call targets, where the tool has one. */
	environment?: string;
	/** The server's retry count, for tools that repeat work (known only once the attempt is reserved). */
	retryCount?: number;
	/** When the call is decided (epoch ms); the policy sees the UTC hour and weekday. */
	at: number;
}

/** A policy that decided the outcome, in the words of its `@id` and `@reason` annotations. */
export interface DeterminingPolicy {
	id: string;
	reason: string;
}

export type PolicyAnswer =
	| { kind: "permitted" }
	/** Refused, but an approval for this exact call would permit it. */
	| { kind: "needs-approval"; policies: DeterminingPolicy[] }
	/** Refused outright; no approval can change it. No policies: nothing permits the call. */
	| { kind: "forbidden"; policies: DeterminingPolicy[]; reason: string }
	/** The policy set cannot be used (it does not parse or validate, or evaluation failed): fail closed. */
	| { kind: "error"; reason: string };

export interface LocalPolicy {
	/** A short hash of the policy text: the `policy_version` of local decisions and every audit record's `local_policy`. */
	readonly id: string;
	/** Where the text came from. */
	readonly source: "bundled" | "GUARD_POLICY";
	/** Set when the policy set is unusable: every guarded call is then refused with this reason. */
	readonly error?: string;
	/** Set when the policy set is usable but worth a warning (for example, it permits nothing). */
	readonly warning?: string;
	/** A tool call: evaluated as is and, when refused, a second time as if approved. Never throws. */
	decide(call: PolicyCall): PolicyAnswer;
	/** tools/list: whether the caller sees the tool (it could ever be called, and no policy hides it). Never throws. */
	lists(caller: PolicyCaller, tool: PolicyTool): boolean;
}

/** What a call is described to the policy from. */
export interface CallFacts {
	tool: { name: string; server?: string; annotations?: ToolAnnotations };
	/** The intent's side effects (what is asked). */
	sideEffects: readonly string[];
	args: Record<string, unknown>;
	/** The intent's context: its `environment`, if a string, is the call's environment. */
	context: Record<string, unknown> | undefined;
	caller: PolicyCaller;
	/** When the call is decided (epoch ms). */
	at: number;
	/** The server's retry count, for loop tools once the attempt is reserved. */
	retryCount?: number;
}

/** How the pipeline describes a call to the policy: the intent's side effects, the server's facts. */
export function describeCall(facts: CallFacts): PolicyCall {
	const { tool, sideEffects, args, context, caller, at, retryCount } = facts;
	const environment = context?.environment;
	return {
		caller,
		tool: { name: tool.name, server: tool.server ?? "builtin", annotations: tool.annotations, sideEffects },
		arguments: args,
		...(typeof environment === "string" ? { environment } : {}),
		...(retryCount !== undefined ? { retryCount } : {}),
		at,
	};
}

/** The words of a refusal: every determining policy, by id and reason. */
export function policyWords(policies: readonly DeterminingPolicy[]): string {
	return policies.map((p) => `local rule '${p.id}'${p.reason ? `: ${p.reason}` : ""}`).join("; ");
}

/** tools/list for one caller: whether the tool, with its declared side effects, is shown (per request, per tool). */
export function isListed(
	policy: LocalPolicy,
	caller: PolicyCaller,
	tool: { name: string; server?: string; annotations?: ToolAnnotations; sideEffects: readonly string[] },
): boolean {
	return policy.lists(caller, {
		name: tool.name,
		server: tool.server ?? "builtin",
		annotations: tool.annotations,
		sideEffects: tool.sideEffects,
	});
}
