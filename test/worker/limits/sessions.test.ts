/**
 * Sessions and SSE streams per principal are capped (MAX_SESSIONS_PER_PRINCIPAL),
 * and opening one counts against the rate limit (issue 8, item 10). RATE_LIMIT_PER_MINUTE is 5 here.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BudgetStore } from "../../../src/state/budget-store";
import { call, connect, workerWith } from "../support/mcp";
import { budgetOf } from "../../../src/state/bindings";

const MCP_HEADERS = { accept: "application/json, text/event-stream", "content-type": "application/json" };
const initialize = JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

/** A fresh minute for the rate limit: the calls of the window are forgotten, sessions are not. */
async function forgetCalls() {
	const budget = budgetOf(env, "local");
	await runInDurableObject(budget, (_o: BudgetStore, state) => void state.storage.sql.exec("DELETE FROM calls"));
}

describe("MAX_SESSIONS_PER_PRINCIPAL", () => {
	it("refuses the session over the cap with a clear 429, counts SSE streams, and frees a slot on DELETE", async () => {
		await forgetCalls();
		const via = workerWith({ MAX_SESSIONS_PER_PRINCIPAL: "2" });
		const first = await connect("streamable", undefined, via);
		const second = await connect("sse", undefined, via);
		const res = await via(new Request("http://localhost/mcp", { method: "POST", headers: MCP_HEADERS, body: initialize }));
		expect(res.status).toBe(429);
		const body = await res.json<{ error: string; message: string }>();
		expect(body.error).toBe("too_many_sessions");
		expect(body.message).toMatch(/MAX_SESSIONS_PER_PRINCIPAL \(2\)/);
		const sse = await via(new Request("http://localhost/sse", { headers: { accept: "text/event-stream" } }));
		expect(sse.status).toBe(429);

		// The SDK client's close does not end the session: its DELETE does.
		await (first.transport as unknown as { terminateSession(): Promise<void> }).terminateSession();
		await first.close();
		const third = await connect("streamable", undefined, via);
		expect((await call(third, "research-topic", { topic: "a freed slot" })).structuredContent!.verdict).not.toBe(undefined);
		await Promise.all([second.close(), third.close()]);
	});

	it("counts opening a session against the principal's rate limit", async () => {
		await forgetCalls();
		const via = workerWith({ MAX_SESSIONS_PER_PRINCIPAL: "100" });
		const statuses: number[] = [];
		for (let i = 0; i < 6; i++) {
			const res = await via(new Request("http://localhost/mcp", { method: "POST", headers: MCP_HEADERS, body: initialize }));
			statuses.push(res.status);
			if (res.status === 429) {
				const body = await res.json<{ error: string; retry_after_seconds: number }>();
				expect(body.error).toBe("rate_limited");
				expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
			} else await res.body?.cancel();
		}
		expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
	});

	it("rate limits a flood of invalid calls like any other calls", async () => {
		await forgetCalls();
		const client = await connect("streamable", undefined, workerWith({ MAX_SESSIONS_PER_PRINCIPAL: "100" })); // 1 of 5
		const texts: string[] = [];
		for (let i = 0; i < 5; i++) texts.push((await call(client, "no-such-tool", {})).content[0].text);
		expect(texts.slice(0, 4).every((t) => /not found/.test(t))).toBe(true);
		expect(texts[4]).toMatch(/RATE_LIMITED/);
		await client.close();
	});
});
