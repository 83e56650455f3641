/** Calls refused before the pipeline still leave an audit record, with `source: "protocol"` (issue 8, item 12). */
import { describe, expect, it, vi } from "vitest";
import { call } from "../support/mcp";
import { api, as } from "./support";

async function protocolRecords(who: "alice" | "victor", principal: string) {
	const { body } = await api(who, "GET", `/api/audit?principal=${principal}&limit=500`);
	return (body.records as { source: string; tool: string; role: string; verdict: string; reason: string; outcome: string }[]).filter(
		(r) => r.source === "protocol",
	);
}

describe("refusals before the pipeline are on record", () => {
	it("records an unknown tool, a hidden tool and a schema error, and runs nothing", async () => {
		const victor = await as("victor"); // viewer
		const unknown = await call(victor, "drop-database", { name: "prod" });
		const hidden = await call(victor, "publish-content", { content: "x", channel: "blog" });
		const invalid = await call(victor, "research-topic", { topic: 42 });
		for (const r of [unknown, hidden, invalid]) expect(r.isError).toBe(true);
		expect(hidden.content[0].text).toBe("MCP error -32602: Tool publish-content not found");
		expect(invalid.content[0].text).toMatch(/Input validation error/);
		await vi.waitFor(async () => expect(await protocolRecords("victor", "victor")).toHaveLength(3), { timeout: 3000 });
		const records = await protocolRecords("victor", "victor");
		expect(records.map((r) => r.tool).sort()).toEqual(["drop-database", "publish-content", "research-topic"]);
		for (const r of records) expect(r).toMatchObject({ role: "viewer", verdict: "DENY", outcome: "not_run", reason: expect.any(String) });
		expect(records.find((r) => r.tool === "publish-content")!.reason).toMatch(/not found/);
		await victor.close();
	});

	it("keeps tool names that are not names out of the record", async () => {
		const alice = await as("alice");
		await call(alice, "x".repeat(5000), {});
		await vi.waitFor(async () => expect(await protocolRecords("alice", "alice")).toHaveLength(1), { timeout: 3000 });
		expect((await protocolRecords("alice", "alice"))[0].tool.length).toBeLessThanOrEqual(128);
		await alice.close();
	});
});
