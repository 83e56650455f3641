import { describe, expect, it } from "vitest";
import type { Authority, CheckRequest, Decision } from "../../src/guard/decision";
import { type GuardDeps, type GuardedTool, guardedCall } from "../../src/guard/pipeline";
import { SimulatedAuthority } from "../../src/guard/simulated-authority";

function scripted(verdict: Decision["verdict"]): Authority & { seen: CheckRequest[] } {
	const seen: CheckRequest[] = [];
	return {
		mode: "stage0",
		seen,
		async check(request) {
			seen.push(request);
			return {
				verdict,
				decision: verdict === "ALLOW" ? "GO" : verdict === "DENY" ? "NO_GO" : "DEFER",
				reason: "scripted",
				request_id: "r",
				policy_version: "p",
				risk_score: 1,
				high_risk: false,
				issues: [],
				questions: [],
				guardrails: [],
				source: "stage0",
				latency_ms: 0,
			};
		},
	};
}

function memoryLoops() {
	const counts = new Map<string, number>();
	return {
		reserveAttempt(tool: string, key: string) {
			const n = (counts.get(`${tool}/${key}`) ?? 0) + 1;
			counts.set(`${tool}/${key}`, n);
			return n;
		},
	};
}

const deps = (authority: Authority, over: Partial<GuardDeps> = {}): GuardDeps => ({
	authority,
	loops: memoryLoops(),
	maxRetries: 3,
	runtime: { principal: "alice", role: "developer", sessionId: "s-1" },
	...over,
});

function spyTool(over: Partial<GuardedTool<{ x: string }, { ran: string }>> = {}) {
	const runs: string[] = [];
	const tool: GuardedTool<{ x: string }, { ran: string }> = {
		name: "do-thing",
		kind: "action",
		sideEffects: ["publish"],
		intent: ({ x }) => ({ goal: `Do the thing with ${x}`, success_criteria: ["done"], side_effects: ["publish"] }),
		run: ({ x }) => {
			runs.push(x);
			return { ran: x };
		},
		...over,
	};
	return { tool, runs };
}

describe("guardedCall", () => {
	it("runs the action after an ALLOW, and only then", async () => {
		for (const verdict of ["ALLOW", "DENY", "DEFER"] as const) {
			const { tool, runs } = spyTool();
			const out = await guardedCall(tool, { x: "a" }, deps(scripted(verdict)));
			expect(runs).toEqual(verdict === "ALLOW" ? ["a"] : []);
			expect(out.action.status).toBe(verdict === "ALLOW" ? "executed" : "not_run");
		}
	});

	it("sends the runtime facts the agent cannot overwrite", async () => {
		const authority = scripted("ALLOW");
		const { tool } = spyTool({
			intent: () => ({
				goal: "Do the thing",
				success_criteria: ["done"],
				side_effects: [],
				context: { actor_id: "mallory", current_tool: "research-topic", environment: "staging" },
			}),
		});
		await guardedCall(tool, { x: "a" }, deps(authority));
		expect(authority.seen[0].context).toMatchObject({
			actor_id: "alice",
			current_tool: "do-thing",
			run_id: "s-1",
			environment: "staging",
		});
		expect(authority.seen[0].tools).toEqual(["do-thing"]);
	});

	it("never runs a query tool, whatever the verdict", async () => {
		const { tool, runs } = spyTool({ kind: "query" });
		await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW")));
		expect(runs).toEqual([]);
	});

	it("fails closed when the authority throws", async () => {
		const { tool, runs } = spyTool();
		const broken: Authority = {
			mode: "stage0",
			check: () => Promise.reject(new Error("boom")),
		};
		const out = await guardedCall(tool, { x: "a" }, deps(broken));
		expect(runs).toEqual([]);
		expect(out.decision).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
	});

	it("reports an allowed action that failed, without hiding the verdict", async () => {
		const { tool } = spyTool({
			run: () => {
				throw new Error("disk full");
			},
		});
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW")));
		expect(out.decision.verdict).toBe("ALLOW");
		expect(out.action).toEqual({ status: "failed", error: "disk full" });
	});
});

describe("guardedCall: loop tools", () => {
	const loopTool = (claimed?: number) =>
		spyTool({
			intent: () => ({ goal: "Retry the failing workflow", success_criteria: ["ok"], side_effects: ["loop"] }),
			loop: { key: ({ x }) => x, claimedRetryCount: () => claimed },
		});

	it("counts attempts itself and defers from attempt maxRetries + 1, without asking", async () => {
		const authority = scripted("ALLOW");
		const d = deps(authority); // maxRetries 3
		const { tool, runs } = loopTool();
		const verdicts = [];
		for (let i = 0; i < 5; i++) verdicts.push((await guardedCall(tool, { x: "wf" }, d)).decision.verdict);
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "DEFER", "DEFER"]);
		expect(runs).toHaveLength(3);
		expect(authority.seen.map((r) => r.context.retry_count)).toEqual([0, 1, 2]);
		expect(authority.seen[0].constraints).toContain("max_retries: 3");
	});

	it("lets the agent's count raise the server's, never lower it", async () => {
		const authority = scripted("ALLOW");
		const d = deps(authority);
		const { tool } = loopTool(0);
		for (let i = 0; i < 3; i++) await guardedCall(tool, { x: "wf" }, d);
		const fourth = await guardedCall(tool, { x: "wf" }, d);
		expect(fourth.decision.verdict).toBe("DEFER");
		expect(fourth.decision.issues[0].code).toBe("LOOP_THRESHOLD_EXCEEDED");

		const high = await guardedCall(loopTool(7).tool, { x: "other" }, d);
		expect(high.decision.verdict).toBe("DEFER");
		expect(high.attempt).toMatchObject({ number: 1, retry_count: 7 });
	});

	it("keeps separate counts per loop key", async () => {
		const d = deps(new SimulatedAuthority());
		const { tool } = loopTool();
		for (let i = 0; i < 3; i++) await guardedCall(tool, { x: "a" }, d);
		expect((await guardedCall(tool, { x: "b" }, d)).decision.verdict).toBe("ALLOW");
	});

	it("fails closed when the counter cannot be written", async () => {
		const { tool, runs } = loopTool();
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW"), {
			loops: {
				reserveAttempt: () => {
					throw new Error("storage down");
				},
			},
		}));
		expect(out.decision.decision).toBe("ERROR");
		expect(runs).toEqual([]);
	});
});
