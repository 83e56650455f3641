/**
 * The bench build of the Worker: the real entry (src/index.ts, unchanged) with
 * a Durable Object class that serves the six real guarded tools plus one
 * UNGUARDED tool, `research-topic-unguarded`, used only as a benchmark
 * baseline. It has research-topic's input schema, output schema, action and
 * result rendering, but no guard: no intent, no check request, no authority.
 * Its result carries a fixed, prebuilt ALLOW decision so its response has the
 * same shape and size as the guarded tool's, and the client does the same work.
 *
 * This file is never part of the product build (wrangler.toml points at
 * src/index.ts); only bench/wrangler.bench.toml uses it.
 */
import worker, { GuardAgent } from "../src/index";
import type { Decision } from "../src/guard/decision";
import { SIMULATED_POLICY_VERSION } from "../src/guard/simulated-authority";
import { TOOLS } from "../src/tools/definitions";
import { renderOutcome } from "../src/tools/result";
import { decisionOutputShape } from "../src/tools/schema";

const UNGUARDED_TOOL = "research-topic-unguarded";

const researchTopic = TOOLS.find((t) => t.name === "research-topic");
if (!researchTopic?.run) throw new Error("bench: research-topic not found in TOOLS");

/** What the simulator answers for research-topic, fixed (same fields, same sizes). */
const FIXED_ALLOW: Decision = {
	verdict: "ALLOW",
	decision: "GO",
	reason: "Informational operation with no high-risk side effects",
	request_id: "00000000-0000-4000-8000-000000000000",
	policy_version: SIMULATED_POLICY_VERSION,
	risk_score: 15,
	high_risk: false,
	issues: [],
	questions: [],
	guardrails: ["read_only"],
	source: "simulated",
	latency_ms: 0,
};

export class BenchGuardAgent extends GuardAgent {
	override async init(): Promise<void> {
		await super.init();
		const tool = researchTopic!;
		this.server.registerTool(
			UNGUARDED_TOOL,
			{
				title: `${tool.title} (unguarded bench baseline)`,
				description: tool.description,
				inputSchema: tool.input,
				outputSchema: decisionOutputShape,
				annotations: { title: tool.title, ...tool.annotations },
			},
			async (args: Record<string, unknown>) => {
				const output = await tool.run!(args, { decision: FIXED_ALLOW });
				return renderOutcome(UNGUARDED_TOOL, tool.kind, { decision: FIXED_ALLOW, action: { status: "executed", output } }, tool.summarize);
			},
		);
	}
}

export default worker;
