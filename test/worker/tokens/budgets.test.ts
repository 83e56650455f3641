/** Loop budgets follow the principal across sessions; principals do not share them. */
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../support/mcp";
import { as } from "./support";

// Let the sessions' Durable Objects finish their own clean-up before the
// runtime is torn down (otherwise workerd logs a harmless teardown error).
afterAll(() => new Promise((resolve) => setTimeout(resolve, 1000)));

describe("loop budget per principal", () => {
	it("counts across two sessions of one principal: reconnecting does not reset a loop", async () => {
		const first = await as("alice");
		const verdicts: string[] = [];
		for (let i = 0; i < 3; i++)
			verdicts.push((await call(first, "retry-workflow", { workflowId: "billing-sync" })).structuredContent!.verdict);
		await first.close();
		const second = await as("alice");
		for (let i = 0; i < 3; i++)
			verdicts.push((await call(second, "retry-workflow", { workflowId: "billing-sync" })).structuredContent!.verdict);
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DEFER"]);
		const last = await call(second, "retry-workflow", { workflowId: "billing-sync" });
		expect(last.structuredContent!.attempt).toMatchObject({ number: 7, max_retries: 5 });
		await second.close();
	});

	it("keeps principals apart", async () => {
		const carol = await as("carol");
		const r = await call(carol, "retry-workflow", { workflowId: "billing-sync" });
		expect(r.structuredContent).toMatchObject({ verdict: "ALLOW", attempt: { number: 1 } });
		await carol.close();
	});

	it("lets no more than MAX_RETRIES through when 50 calls arrive at once across 5 sessions", { timeout: 30_000 }, async () => {
		const sessions = await Promise.all(Array.from({ length: 5 }, () => as("bob")));
		const results = await Promise.all(
			Array.from({ length: 50 }, (_, i) => call(sessions[i % 5], "retry-workflow", { workflowId: "storm" })),
		);
		const verdicts = results.map((r) => r.structuredContent!.verdict);
		expect(verdicts.filter((v) => v === "ALLOW")).toHaveLength(5);
		expect(verdicts.filter((v) => v === "DEFER")).toHaveLength(45);
		expect(results.filter((r) => r.structuredContent!.executed)).toHaveLength(5);
		for (const s of sessions) await s.close();
	});

	it("counts variants of one workflow id as one loop, across sessions: case, zero-width, fullwidth, look-alikes", async () => {
		const variants = ["nightly-x", "NIGHTLY-X", "nightly-x\u200b", "ｎｉｇｈｔｌｙ－ｘ", "nightly-\u0445", "\u202enightly-x"];
		const first = await as("carol");
		const second = await as("carol");
		const results = [];
		for (const [i, workflowId] of variants.entries()) results.push(await call(i % 2 ? second : first, "retry-workflow", { workflowId }));
		expect(results.map((r) => r.structuredContent!.verdict)).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DEFER"]);
		const empty = await call(first, "retry-workflow", { workflowId: "\u200b\u2066" });
		expect(empty.isError).toBe(true);
		expect(empty.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		expect(empty.content[0].text).toMatch(/workflow id is empty once invisible, control and formatting characters are removed/);
		await Promise.all([first.close(), second.close()]);
	});
});
