/**
 * The demos: `npm run demo:allow`, `npm run demo:deny`, `npm run demo:defer`.
 *
 * Each one talks to the real edge guard over MCP (Streamable HTTP, at MCP_URL,
 * default http://localhost:8787/mcp), starting `wrangler dev` first if nothing
 * is running there. Everything printed about a decision comes from the tool
 * result's structuredContent. Exit code 0 only when the server answered as
 * the scenario expects.
 *
 *   tsx scripts/demo.ts allow|deny|defer [--auto-approve]
 *
 * demo:defer ends with the approval loop: a person approves the held retry on
 * the approvers' page, and the agent's retry with approvalId runs (see demo/approval.ts).
 */
import { approveThenRetry } from "./demo/approval";
import { type DemoContext, type GuardResult, runDemo, type Scenario } from "./demo/lib";
import { banner, callingStage0, closing, decisionBlock, scenario } from "./demo/report";

function showCall(tool: string, args: Record<string, unknown>): void {
	console.log(`MCP tool call: ${tool} ${JSON.stringify(args)}`);
	console.log("");
}

async function ask(ctx: DemoContext, tool: string, args: Record<string, unknown>): Promise<GuardResult> {
	showCall(tool, args);
	callingStage0(ctx.health);
	const r = await ctx.call(tool, args);
	decisionBlock(r);
	return r;
}

const allow: Scenario = async (ctx) => {
	banner("DEMO: ALLOW Scenario - Research Tool Call");
	scenario("An agent wants to research a topic and return an informational summary. This is a low-risk operation.");
	const r = await ask(ctx, "research-topic", { topic: "Runtime authorization for AI agent tool calls" });
	return closing(r, {
		verdict: "ALLOW",
		toolLabel: "the research tool",
		because: [
			"No side effects (publish, deploy, etc.)",
			"Informational operation only",
			r.issues.length === 0 ? "No guardrail violations" : `Issues noted: ${r.issues.map((i) => i.code).join(", ")}`,
		],
		after: typeof r.result?.summary === "string" ? [`Result: ${r.result.summary}`] : [],
	});
};

const deny: Scenario = async (ctx) => {
	banner("DEMO: DENY Scenario - Publish Tool Call");
	scenario(
		"An agent attempts to publish content to a public channel without proper authorization. This is a high-risk operation that should be blocked.",
	);
	const r = await ask(ctx, "publish-content", {
		content: "Announcing our new product line: available to everyone starting today!",
		channel: "twitter",
	});
	const findings = r.issues.length > 0 ? r.issues.map((i) => i.message) : [r.reason];
	return closing(r, {
		verdict: "DENY",
		toolLabel: "the publish tool",
		because: [...findings, "No human approval was provided", "Publishing without review can cause trust/compliance issues"],
	});
};

const deferVague: Scenario = async (ctx) => {
	banner("DEMO: DEFER Scenario - Unclear/Vague Request");
	scenario(
		"An agent receives a vague request without clear success criteria or value proposition. Stage0 DEFERs to request more context before proceeding.",
	);
	// As the scenario says: no success criteria, no side effects, a goal that names no outcome.
	const r = await ask(ctx, "check-authorization", { goal: "help me think", sideEffects: [] });
	return closing(
		r,
		{
			verdict: "DEFER",
			toolLabel: "the requested action",
			because: ["Request is too vague to evaluate value", "Success criteria are unclear", "More context is needed before execution"],
			problem: (r) =>
				r.issues.some((i) => i.code === "UNCLEAR_VALUE_SIGNAL") || r.reason.startsWith("UNCLEAR_VALUE_SIGNAL")
					? undefined
					: "the DEFER is not UNCLEAR_VALUE_SIGNAL",
		},
		"query",
	);
};

function isLoopThreshold(r: GuardResult): boolean {
	return (
		r.verdict === "DEFER" && (r.issues.some((i) => i.code === "LOOP_THRESHOLD_EXCEEDED") || r.reason.startsWith("LOOP_THRESHOLD_EXCEEDED"))
	);
}

const deferLoop: Scenario = async (ctx) => {
	const maxRetries = ctx.health.max_retries;
	// A workflow of this run: the server remembers loops across sessions for
	// LOOP_WINDOW_SECONDS, so a second run must not inherit the first one's count.
	const workflowId = `nightly-report-sync-${crypto.randomUUID().slice(0, 8)}`;
	banner("DEMO: DEFER Scenario - Loop Threshold Exceeded");
	scenario(
		`An agent keeps retrying a failing workflow. The edge guard counts the attempts itself, per workflow, in this session and across all of the caller's sessions (MAX_RETRIES = ${maxRetries}); once the limit is reached, the next retry is DEFERred to a person, whatever the agent claims.`,
	);
	showCall("retry-workflow", { workflowId });
	console.log(`Retrying workflow "${workflowId}" (at most ${maxRetries + 2} calls)...`);

	let last: GuardResult | undefined;
	for (let call = 1; call <= maxRetries + 2; call++) {
		const r = await ctx.call("retry-workflow", { workflowId });
		last = r;
		const count = r.attempt ? `retry count ${r.attempt.retry_count}/${r.attempt.max_retries}` : "no attempt count";
		const outcome = r.executed ? "ran" : `not run: ${r.issues[0]?.code ?? r.reason.split(":")[0]}`;
		console.log(`  Attempt ${r.attempt?.number ?? call}: ${`${r.verdict} (${r.decision})`.padEnd(15)} ${count.padEnd(18)} -> ${outcome}`);
		if (r.verdict !== "ALLOW") break;
	}
	console.log("");
	if (!last) return false;
	decisionBlock(last);

	// The server's own count (the demo claims nothing; retry_count would include an agent's claim).
	const retried = last.attempt?.counted_retries ?? maxRetries;
	const asExpected = closing(last, {
		verdict: "DEFER",
		toolLabel: "the retry",
		because: [
			`The workflow has already been retried ${retried} times, counted across all your sessions (limit ${last.attempt?.max_retries ?? maxRetries})`,
			"Retrying a failing step again rarely fixes it; the root cause needs a look",
			"The agent cannot reset the count: it is kept by the server, not by the agent",
		],
		problem: (r) =>
			isLoopThreshold(r)
				? undefined
				: r.verdict === "ALLOW"
					? `${maxRetries + 2} retries in a row were all allowed; the loop threshold never triggered`
					: "the retries stopped, but not with LOOP_THRESHOLD_EXCEEDED",
	});
	if (!asExpected || !isLoopThreshold(last)) return false;
	return approveThenRetry(ctx, last, "retry-workflow", { workflowId });
};

const DEMOS: Record<string, Scenario[]> = {
	allow: [allow],
	deny: [deny],
	defer: [deferVague, deferLoop],
};

const name = process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "";
const demo = DEMOS[name];
if (!demo) {
	console.error(`Usage: tsx scripts/demo.ts <${Object.keys(DEMOS).join("|")}>`);
	process.exit(2);
}
process.exit(await runDemo(demo));
