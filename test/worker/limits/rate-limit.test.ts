/** A runaway agent is stopped by its rate limit before it reaches Stage0. */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, connect } from "../support/mcp";

let stage0Calls = 0;
beforeEach(() => {
	stage0Calls = 0;
	const real = globalThis.fetch;
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const request = new Request(input as RequestInfo, init);
		if (!request.url.startsWith("https://stage0.test/")) return real(input as RequestInfo, init);
		stage0Calls++;
		return Response.json({ verdict: "ALLOW", decision: "GO", reason: "ok", request_id: crypto.randomUUID(), policy_version: "p1" });
	});
});
afterEach(() => vi.restoreAllMocks());

describe("RATE_LIMIT_PER_MINUTE (5 here)", () => {
	it("trips across sessions before Stage0 is asked, says when to retry, and recovers", async () => {
		const first = await connect();
		const second = await connect();
		// Opening the two sessions counted against the limit too (limits/sessions.test.ts): start the minute afresh.
		const budget = env.BUDGETS.get(env.BUDGETS.idFromName("local"));
		await runInDurableObject(budget, (_i, state) => state.storage.sql.exec("DELETE FROM calls"));
		const verdicts: string[] = [];
		for (let i = 0; i < 3; i++) verdicts.push((await call(first, "research-topic", { topic: `t${i}` })).structuredContent!.verdict);
		for (let i = 0; i < 3; i++) verdicts.push((await call(second, "research-topic", { topic: `u${i}` })).structuredContent!.verdict);
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DEFER"]);
		expect(stage0Calls).toBe(5);

		const limited = await call(first, "research-topic", { topic: "again" });
		expect(stage0Calls).toBe(5);
		expect(limited.isError).toBe(true);
		expect(limited.structuredContent).toMatchObject({ verdict: "DEFER", source: "local-rule", executed: false });
		expect(limited.structuredContent!.issues[0].code).toBe("RATE_LIMITED");
		expect(limited.structuredContent!.retry_after_seconds).toBeGreaterThanOrEqual(1);
		expect(limited.structuredContent!.retry_after_seconds).toBeLessThanOrEqual(60);
		expect(limited.content[0].text).toMatch(/Retry after \d+ seconds/);

		// a minute later (the window's calls aged out) it serves again
		await runInDurableObject(budget, (_i, state) => state.storage.sql.exec("UPDATE calls SET at = at - 61000"));
		const recovered = await call(second, "research-topic", { topic: "after a minute" });
		expect(recovered.structuredContent!.verdict).toBe("ALLOW");
		expect(stage0Calls).toBe(6);
		await first.close();
		await second.close();
	});
});

describe("AUDIT_STORE_ARGUMENTS=true", () => {
	it("stores the arguments, with secret-looking values redacted", async () => {
		const budget = env.BUDGETS.get(env.BUDGETS.idFromName("local"));
		await runInDurableObject(budget, (_i, state) => state.storage.sql.exec("DELETE FROM calls"));
		const client = await connect();
		const r = await call(client, "check-authorization", {
			goal: "Rotate the key sk-live-abcdefghijklmnop12345 for billing",
			sideEffects: ["deploy"],
			successCriteria: ["Rotated before the Bearer abcdefghijklmnopqrstuvwx expires"],
		});
		const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName("local"));
		await expect.poll(async () => (await log.byRequestId(r.structuredContent!.request_id)).length, { timeout: 3000 }).toBe(1);
		const [record] = await log.byRequestId(r.structuredContent!.request_id);
		expect(record.arguments).toEqual({ goal: "[redacted]", sideEffects: ["deploy"], successCriteria: ["[redacted]"] });
		expect(JSON.stringify(record)).not.toContain("sk-live");
		await client.close();
	});
});
