/**
 * Policy tests as data (policies/tests/*.json): a request and the expected
 * local decision. Run by `npm test` and `npm run policy:check`, so a team that
 * changes a policy sees what changed. A built-in tool is described exactly as
 * the pipeline describes it (its intent gives the side effects and the
 * environment); any other tool (an upstream's) gives its server, annotations
 * and side effects in the case.
 */
import { z } from "zod";
import { describeCall, type LocalPolicy, type PolicyOutcome } from "../guard/local-policy";
import { TOOLS } from "../tools/definitions";

const Hint = z.boolean().optional();
const CaseSchema = z.strictObject({
	name: z.string().min(1),
	principal: z.string().min(1).default("alice"),
	role: z.string().min(1),
	groups: z.array(z.string()).optional(),
	tool: z.string().min(1),
	/** list_tools asks whether the tool is listed; call_tool (the default) whether the call may go on. */
	action: z.enum(["call_tool", "list_tools"]).default("call_tool"),
	arguments: z.record(z.string(), z.unknown()).default({}),
	/** Only for tools that are not built in. */
	server: z.string().optional(),
	annotations: z.strictObject({ readOnlyHint: Hint, destructiveHint: Hint, idempotentHint: Hint, openWorldHint: Hint }).optional(),
	sideEffects: z.array(z.string()).optional(),
	environment: z.string().optional(),
	retryCount: z.number().int().min(0).optional(),
	/** When the call is made (ISO 8601); default 2026-11-25T10:00:00Z, a Wednesday morning (UTC). */
	at: z.iso.datetime({ offset: true }).default("2026-11-25T10:00:00Z"),
	expect: z.enum(["allow", "approval", "forbid", "error", "listed", "hidden"]),
	/** The determining policies, in the policy text's order (checked when given). */
	policies: z.array(z.string()).optional(),
});
const FileSchema = z.strictObject({
	description: z.string().optional(),
	/** A policy file (relative to policies/) these cases are about; without it, the policy set being checked. */
	policy: z
		.string()
		.regex(/^[\w./-]+\.cedar$/, "must be a .cedar file under policies/")
		.refine((p) => !p.split("/").includes(".."), "must stay under policies/")
		.optional(),
	cases: z.array(CaseSchema).min(1),
});

export type PolicyTestCase = z.infer<typeof CaseSchema>;

export interface PolicyTestResult {
	file: string;
	name: string;
	ok: boolean;
	/** What was expected and what happened, for a failed case. */
	message?: string;
}

/** Parses one test file; throws an Error with a clear message (file, case, field) when it is not valid. */
export function parsePolicyTestFile(file: string, text: string): { policy?: string; cases: PolicyTestCase[] } {
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (error) {
		throw new Error(`${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
	}
	const parsed = FileSchema.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0]!;
		throw new Error(`${file}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
	}
	return parsed.data;
}

/** The local decision for a case, in the tests' words. */
export function runCase(policy: LocalPolicy, c: PolicyTestCase): { outcome: PolicyTestCase["expect"]; policies: string[]; detail: string } {
	const builtin = TOOLS.find((t) => t.name === c.tool && c.server === undefined);
	const caller = { principal: c.principal, role: c.role, ...(c.groups ? { groups: c.groups } : {}) };
	let tool: { name: string; server?: string; annotations?: PolicyTestCase["annotations"]; sideEffects: readonly string[] };
	let sideEffects: readonly string[];
	let context: Record<string, unknown> | undefined = c.environment !== undefined ? { environment: c.environment } : undefined;
	if (builtin && c.action === "list_tools") {
		tool = builtin;
		sideEffects = builtin.sideEffects;
	} else if (builtin) {
		const args = z.object(builtin.input).safeParse(c.arguments);
		if (!args.success)
			throw new Error(
				`case "${c.name}": arguments of ${c.tool}: ${args.error.issues[0]!.path.join(".")}: ${args.error.issues[0]!.message}`,
			);
		const intent = builtin.intent(args.data as never);
		tool = builtin;
		sideEffects = intent.side_effects ?? builtin.sideEffects;
		context = intent.context;
	} else {
		if (c.server === undefined)
			throw new Error(`case "${c.name}": ${c.tool} is not a built-in tool: give its "server" (and its "annotations" and "sideEffects")`);
		tool = { name: c.tool, server: c.server, annotations: c.annotations, sideEffects: c.sideEffects ?? [] };
		sideEffects = tool.sideEffects;
	}
	if (c.action === "list_tools") {
		const listed = policy.lists(caller, { name: tool.name, server: tool.server ?? "builtin", annotations: tool.annotations, sideEffects });
		return { outcome: listed ? "listed" : "hidden", policies: [], detail: listed ? "listed" : "hidden" };
	}
	const outcome = policy.decide(describeCall(tool, sideEffects, c.arguments, context, caller, Date.parse(c.at), c.retryCount));
	return {
		outcome: outcomeWord(outcome),
		policies: "policies" in outcome ? outcome.policies.map((p) => p.id) : [],
		detail: describeOutcome(outcome),
	};
}

function outcomeWord(o: PolicyOutcome): PolicyTestCase["expect"] {
	return o.kind === "permitted" ? "allow" : o.kind === "needs-approval" ? "approval" : o.kind === "forbidden" ? "forbid" : "error";
}

/** One line a person reads: the outcome and the policies that decided it. */
export function describeOutcome(o: PolicyOutcome): string {
	switch (o.kind) {
		case "permitted":
			return "allow (the authority decides next)";
		case "needs-approval":
			return `approval needed, by ${o.policies.map((p) => `'${p.id}'`).join(", ")}`;
		case "forbidden":
			return o.policies.length > 0 ? `forbid, by ${o.policies.map((p) => `'${p.id}'`).join(", ")}` : `forbid: ${o.reason}`;
		case "error":
			return `error: ${o.reason}`;
	}
}

/**
 * Runs the cases of every file: against the file's own `policy` when it names one (loaded by `policyFile`),
 * else against `policy`, the set being checked.
 */
export function runPolicyTests(
	policy: LocalPolicy,
	files: readonly { file: string; text: string }[],
	policyFile: (path: string) => LocalPolicy,
): PolicyTestResult[] {
	const results: PolicyTestResult[] = [];
	for (const { file, text } of files) {
		let cases: PolicyTestCase[];
		let subject = policy;
		try {
			const parsed = parsePolicyTestFile(file, text);
			cases = parsed.cases;
			if (parsed.policy) subject = policyFile(parsed.policy);
			if (subject.error) throw new Error(`${file}: its policy ${parsed.policy ?? ""} cannot be used: ${subject.error}`);
		} catch (error) {
			results.push({ file, name: "(file)", ok: false, message: error instanceof Error ? error.message : String(error) });
			continue;
		}
		for (const c of cases) {
			try {
				const got = runCase(subject, c);
				const samePolicies = c.policies === undefined || JSON.stringify(c.policies) === JSON.stringify(got.policies);
				const ok = got.outcome === c.expect && samePolicies;
				results.push({
					file,
					name: c.name,
					ok,
					...(ok ? {} : { message: `expected ${c.expect}${c.policies ? ` by [${c.policies.join(", ")}]` : ""}, got ${got.detail}` }),
				});
			} catch (error) {
				results.push({ file, name: c.name, ok: false, message: error instanceof Error ? error.message : String(error) });
			}
		}
	}
	return results;
}
