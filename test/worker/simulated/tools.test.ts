/** The six tools over MCP, in simulated mode, inside workerd. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { attemptOf, call, connect, rawPost } from "../support/mcp";

let client: Client;
beforeAll(async () => {
	client = await connect();
});
afterAll(async () => {
	await client.close();
});

describe("tools/list", () => {
	it("lists the six guarded tools with output schemas and truthful annotations", async () => {
		const { tools } = await client.listTools();
		const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
		expect(Object.keys(byName).sort()).toEqual(
			[
				"audit-log",
				"check-authorization",
				"deploy-changes",
				"managed-deploy",
				"publish-content",
				"research-topic",
				"retry-workflow",
			].sort(),
		);
		expect(byName["audit-log"].annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
		for (const t of tools.filter((t) => t.name !== "audit-log")) {
			expect(t.outputSchema?.properties).toHaveProperty("verdict");
			expect(t.outputSchema?.properties).toHaveProperty("request_id");
		}
		expect(byName["research-topic"].annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
		expect(byName["deploy-changes"].annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
		expect(byName["publish-content"].annotations).toMatchObject({ readOnlyHint: false, idempotentHint: false, openWorldHint: true });
		expect(byName["check-authorization"].annotations).toMatchObject({ readOnlyHint: true });
		expect(byName["managed-deploy"].inputSchema.required).toEqual(
			expect.arrayContaining(["serviceName", "environment", "changes", "actorRole", "approvalStatus"]),
		);
	});
});

describe("guarded calls in simulated mode", () => {
	it("research-topic is ALLOWED and returns its summary", async () => {
		const r = await call(client, "research-topic", { topic: "Durable Objects" });
		expect(r.isError).toBeFalsy();
		expect(r.structuredContent).toMatchObject({
			verdict: "ALLOW",
			decision: "GO",
			risk_score: 15,
			high_risk: false,
			guardrails: ["read_only"],
			source: "simulated",
			executed: true,
		});
		expect(r.structuredContent!.policy_version).toMatch(/^simulated-/);
		expect(r.structuredContent!.request_id).toMatch(/^[0-9a-f-]{36}$/);
		expect(r.structuredContent?.result?.summary).toContain("Durable Objects");
		expect(r.content[0].text).toContain("✅ TOOL CALL ALLOWED");
	});

	it("publish-content is BLOCKED, is an error, and shows no published output", async () => {
		const r = await call(client, "publish-content", { content: "Our Q3 numbers are ...", channel: "twitter" });
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", decision: "NO_GO", high_risk: true, executed: false });
		expect(r.structuredContent!.issues[0].code).toBe("SIDE_EFFECTS_NEED_GUARDRAILS");
		expect(r.structuredContent).not.toHaveProperty("result");
		expect(r.content[0].text).toContain("⛔ TOOL CALL BLOCKED");
		expect(r.content[0].text).not.toContain("Our Q3 numbers");
	});

	it.each([
		["deploy-changes", { serviceName: "api", environment: "staging", changes: "v2", actorRole: "admin" }],
		[
			"managed-deploy",
			{
				serviceName: "api",
				environment: "staging",
				changes: "v2",
				actorRole: "admin",
				approvalStatus: "approved",
				resourceScope: "team-a",
			},
		],
	])("%s is BLOCKED without approval guardrails", async (name, args) => {
		const r = await call(client, name, args);
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
	});

	it("check-authorization reports a DENY as an answer, not an error", async () => {
		const r = await call(client, "check-authorization", {
			goal: "Publish the release notes to the blog",
			sideEffects: ["publish"],
			successCriteria: ["Published"],
		});
		expect(r.isError).toBeFalsy();
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
	});

	it("check-authorization DEFERs a vague goal with clarifying questions", async () => {
		const r = await call(client, "check-authorization", { goal: "help me", sideEffects: [], successCriteria: ["something"] });
		expect(r.structuredContent).toMatchObject({ verdict: "DEFER", decision: "DEFER" });
		expect(r.structuredContent!.questions.length).toBeGreaterThan(0);
		expect(r.content[0].text).toContain("? What is the specific outcome you want to achieve?");
	});

	it("check-authorization DEFERs a vague request that has no success criteria (the seed's DEFER demo)", async () => {
		const r = await call(client, "check-authorization", { goal: "help me think", sideEffects: [] });
		expect(r.isError).toBeFalsy();
		expect(r.structuredContent).toMatchObject({ verdict: "DEFER", decision: "DEFER", risk_score: 35 });
		expect(r.structuredContent!.issues[0].code).toBe("UNCLEAR_VALUE_SIGNAL");
		expect(r.structuredContent!.questions).toEqual([
			"What is the specific outcome you want to achieve?",
			"What constraints or requirements should be considered?",
		]);
	});

	it("check-authorization DENYs a goal without success criteria", async () => {
		const r = await call(client, "check-authorization", { goal: "Summarize the weekly incident report", sideEffects: [] });
		expect(r.structuredContent!.issues[0].code).toBe("MISSING_SUCCESS_CRITERIA");
	});
});

describe("retry-workflow counts attempts in the session", () => {
	it("allows MAX_RETRIES attempts, then DEFERs; the agent's count cannot lower it", async () => {
		const verdicts: string[] = [];
		for (let i = 0; i < 7; i++) {
			const r = await call(client, "retry-workflow", { workflowId: "nightly-etl", retryCount: 0 });
			verdicts.push(r.structuredContent!.verdict);
			expect(attemptOf(r).number).toBe(i + 1);
		}
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DEFER", "DEFER"]);
		const last = await call(client, "retry-workflow", { workflowId: "nightly-etl" });
		expect(last.structuredContent!.issues[0].code).toBe("LOOP_THRESHOLD_EXCEEDED");
		expect(last.isError).toBe(true);
	});

	it("a first attempt with retryCount 9 says the 9 is the agent's claim, not the server's count", async () => {
		const r = await call(client, "retry-workflow", { workflowId: "claimed-nine", retryCount: 9 });
		expect(r.structuredContent).toMatchObject({ verdict: "DEFER", executed: false });
		expect(r.structuredContent!.attempt).toEqual({ number: 1, retry_count: 9, max_retries: 5, counted_retries: 0, claimed_retry_count: 9 });
		expect(r.structuredContent!.reason).toContain("the agent says this workflow has been retried 9 times");
		expect(r.structuredContent!.reason).toContain("the server counted 0 earlier attempts");
		expect(r.content[0].text).toContain(
			"Attempt 1 (retry count 9 of at most 5: 0 earlier attempts counted by the server, 9 claimed by the agent).",
		);
	});

	it("lets no more than MAX_RETRIES through when 20 calls arrive at once", async () => {
		const results = await Promise.all(Array.from({ length: 20 }, () => call(client, "retry-workflow", { workflowId: "parallel-wf" })));
		const allowed = results.filter((r) => r.structuredContent!.verdict === "ALLOW");
		expect(allowed).toHaveLength(5);
		const attempts = results.map((r) => attemptOf(r).number).sort((a, b) => a - b);
		expect(attempts).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
	});

	it("does not reset when the agent opens a new session", async () => {
		const other = await connect();
		const r = await call(other, "retry-workflow", { workflowId: "nightly-etl" });
		expect(r.structuredContent!.verdict).toBe("DEFER");
		expect(attemptOf(r).number).toBe(9);
		await other.close();
	});
});

describe("bad input", () => {
	it("names the field of a wrong type or value and runs nothing", async () => {
		const r = await call(client, "deploy-changes", { serviceName: "api", environment: "moon", changes: "x" });
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toMatch(/environment/);
		const r2 = await call(client, "retry-workflow", { workflowId: "wf", retryCount: -1 });
		expect(r2.content[0].text).toMatch(/retryCount/);
		const r3 = await call(client, "research-topic", {});
		expect(r3.content[0].text).toMatch(/topic/);
	});

	it("refuses an argument over 256 KiB by name", async () => {
		const r = await call(client, "publish-content", { content: "é".repeat(140 * 1024), channel: "blog" });
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toMatch(/content/);
		expect(r.content[0].text).toMatch(/262144 bytes/);
		expect(r.structuredContent).toBeUndefined();
	});

	it("says clearly that an unknown tool does not exist", async () => {
		const r = await call(client, "delete-production", {});
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toMatch(/delete-production not found/);
	});

	it("answers malformed JSON-RPC with a 4xx parse error and keeps serving", async () => {
		const res = await rawPost("{not json");
		expect(res.status).toBe(400);
		expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32700 } });
		const res2 = await rawPost(JSON.stringify({ hello: "world" }));
		expect(res2.status).toBe(400);
		const r = await call(client, "research-topic", { topic: "still serving" });
		expect(r.structuredContent!.verdict).toBe("ALLOW");
	});

	it("refuses a body over 1 MB before it reaches the session", async () => {
		const big = JSON.stringify({
			jsonrpc: "2.0",
			id: 1,
			method: "tools/call",
			params: { name: "research-topic", arguments: { topic: "x".repeat(1_100_000) } },
		});
		const res = await rawPost(big);
		expect(res.status).toBe(413);
		expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/too large/) } });
	});
});

describe("legacy SSE transport", () => {
	it("serves the same guarded tools at /sse", async () => {
		const sse = await connect("sse");
		const r = await call(sse, "publish-content", { content: "hello", channel: "blog" });
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		const ok = await call(sse, "research-topic", { topic: "SSE" });
		expect(ok.structuredContent!.verdict).toBe("ALLOW");
		await sse.close();
	});
});
