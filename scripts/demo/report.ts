/**
 * Prints the demo report in the seed project's format: the ===== banner, the
 * scenario, Stage0's answer in a dashed block, and a closing verdict that
 * follows what the server actually answered.
 */
import type { ToolKind, Verdict } from "../../src/guard/enums";
import { assertNever } from "../../src/guard/result";
import { decisionLines } from "../../src/tools/result";
import type { GuardResult, Health } from "./lib";

const WIDTH = 70;
const BANNER = "=".repeat(WIDTH);
const RULE = "-".repeat(WIDTH);

/** Word-wraps one line to WIDTH, keeping its indentation; continuation lines get `indent` more. */
function wrap(line: string, indent = "  "): string[] {
	if (line.length <= WIDTH) return [line];
	const lead = /^\s*/.exec(line)?.[0] ?? "";
	const more = lead + indent;
	const out: string[] = [];
	let current = lead;
	for (const word of line.slice(lead.length).split(/ +/)) {
		const fresh = current === lead || current === more;
		const candidate = fresh ? current + word : `${current} ${word}`;
		if (candidate.length > WIDTH && !fresh) {
			out.push(current);
			current = more + word;
		} else {
			current = candidate;
		}
	}
	out.push(current);
	return out;
}

export function print(...lines: string[]): void {
	for (const line of lines) for (const l of wrap(line)) console.log(l);
}

export function banner(title: string): void {
	console.log("");
	console.log(BANNER);
	console.log(title);
	console.log(BANNER);
	console.log("");
}

export function scenario(text: string): void {
	print(`Scenario: ${text}`);
	console.log("");
}

export function callingStage0(health: Health, what = "Calling Stage0 to check authorization..."): void {
	const mode = health.mode === "simulated" ? " (simulated mode)" : health.stage0 ? ` (Stage0 at ${health.stage0.base_url})` : "";
	console.log(`${what}${mode}`);
	console.log("");
}

/** Who decided, said plainly: the server's own rules are not Stage0. */
function responseHeader(r: GuardResult): string {
	switch (r.source) {
		case "local-rule":
			return "Response from the edge guard's own rules (Stage0 was not asked):";
		case "fault":
			return "Response from the edge guard (no usable answer from Stage0, so it fails closed):";
		case "stage0":
		case "simulated": // the simulator stands in for Stage0 (the mode is named above)
		case "protocol":
			return "Response from Stage0:";
		default:
			return assertNever(r.source);
	}
}

export function decisionBlock(r: GuardResult): void {
	console.log(responseHeader(r));
	console.log(RULE);
	print(...decisionLines(r));
	for (const n of r.notes) print(`Note: ${n}`);
	console.log(RULE);
	console.log("");
}

const HEADLINE: Record<Verdict, string> = {
	ALLOW: "✅ TOOL CALL ALLOWED",
	DENY: "⛔ TOOL CALL BLOCKED",
	DEFER: "⏸️ TOOL CALL DEFERRED",
};

const BECAUSE: Record<Verdict, string> = {
	ALLOW: "This is safe because:",
	DENY: "This is correct because:",
	DEFER: "Human review is required because:",
};

export interface Expectation {
	verdict: Verdict;
	/** How the demo names the tool in prose, e.g. "the research tool". */
	toolLabel: string;
	/** The seed's explanation lines, shown when the verdict is the expected one. */
	because: string[];
	/** Lines shown when the tool ran (e.g. what it returned). */
	after?: string[];
	/** A scenario-specific check beyond the verdict; returns what is wrong, if anything. */
	problem?: (r: GuardResult) => string | undefined;
}

/**
 * Prints the closing verdict for what the server answered, and returns whether
 * it is what the scenario expected (right verdict, a real policy decision, and
 * the tool ran exactly when it was allowed to).
 */
export function closing(r: GuardResult, expected: Expectation, kind: ToolKind = "action"): boolean {
	const fault = r.decision === "ERROR";
	console.log(fault ? `${HEADLINE.DENY} (fail-closed: no usable decision)` : HEADLINE[r.verdict]);
	if (kind === "query") {
		print(
			r.verdict === "ALLOW"
				? `The agent could proceed to run ${expected.toolLabel}.`
				: r.verdict === "DEFER"
					? "The agent should NOT proceed automatically."
					: `The agent is NOT allowed to run ${expected.toolLabel}.`,
		);
	} else {
		print(
			r.verdict === "ALLOW"
				? `The agent can proceed to execute ${expected.toolLabel}.`
				: r.verdict === "DEFER"
					? "The agent should NOT proceed automatically."
					: "The agent is NOT allowed to execute this tool.",
		);
	}

	const problems: string[] = [];
	if (fault)
		problems.push("the guard got no usable decision from the authority (decision ERROR), so this is a fault, not a policy verdict");
	else if (r.verdict !== expected.verdict)
		problems.push(`this scenario expects ${expected.verdict}, but the server answered ${r.verdict} (${r.decision})`);
	if (kind === "action" && r.executed !== (r.verdict === "ALLOW" && !fault)) {
		problems.push(`the tool ${r.executed ? "ran" : "did not run"} after a ${r.verdict}`);
	}
	if (kind === "query" && r.executed) problems.push("a check-only query reported that it ran something");
	const extra = problems.length === 0 ? expected.problem?.(r) : undefined;
	if (extra) problems.push(extra);

	if (problems.length === 0) {
		console.log(BECAUSE[r.verdict]);
		for (const line of expected.because) for (const l of wrap(`  - ${line}`)) console.log(l);
	} else {
		console.log("");
		for (const p of problems) print(`⚠️  UNEXPECTED: ${p}.`);
		print(`Reason given: ${r.reason}`);
	}
	console.log("");
	if (kind === "query") {
		print(`(${r.tool} only asks; it runs nothing: executed: ${r.executed})`);
	} else if (r.executed) {
		print(`The edge guard ran ${r.tool} after the ALLOW (executed: true).`, ...(expected.after ?? []));
	} else {
		print(`The edge guard did not run ${r.tool} (executed: false).`);
	}
	if (r.approval) {
		print(`Approval requested: ${r.approval.id} (${r.approval.status} until ${r.approval.expires_at}).`);
		print(`A person can grant it for this exact call at ${r.approval.url}`);
	}
	console.log("");
	return problems.length === 0;
}
