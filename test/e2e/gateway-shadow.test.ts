/**
 * Shadow mode and the gateway's configuration switches, end to end (wrangler
 * dev, the SDK's server as the upstream, the Stage0 stand-in as Stage0).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, startDevServer } from "../../scripts/lib/dev-server";
import { type Stage0StandIn, startStage0StandIn } from "../support/stage0-standin";
import { startUpstreamMcp, type UpstreamMcp } from "../support/upstream-mcp";
import type { ApiAnswer, ToolResult } from "../support/results";

const KEY = "sk-e2e-shadow-8e2d4c6a0b1f3e57";
type Result = ToolResult;

async function connect(origin: string): Promise<Client> {
	const client = new Client({ name: "e2e-shadow", version: "1" });
	await client.connect(new StreamableHTTPClientTransport(new URL(`${origin}/mcp`)));
	return client;
}
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
	(await client.callTool({ name, arguments: args })) as Result;

async function auditRecord(origin: string, requestId: string) {
	for (let i = 0; i < 50; i++) {
		const res = await fetch(`${origin}/api/audit/${requestId}`);
		if (res.ok) {
			const body = (await res.json()) as Pick<ApiAnswer, "records">;
			if (body.records.length && body.records.every((r) => r.outcome !== "pending")) return body.records[0];
		}
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`no final audit record for ${requestId}`);
}

describe("shadow mode (GUARD_MODE=shadow)", () => {
	let stage0: Stage0StandIn;
	let upstream: UpstreamMcp;
	let server: DevServer;
	beforeAll(async () => {
		stage0 = await startStage0StandIn({ apiKey: KEY });
		upstream = await startUpstreamMcp();
		server = await startDevServer({
			vars: {
				STAGE0_API_KEY: KEY,
				STAGE0_BASE_URL: stage0.url,
				STAGE0_TIMEOUT_MS: "1500",
				UPSTREAM_MCP_URL: upstream.url,
				GUARD_MODE: "shadow",
			},
		});
	});
	afterAll(async () => {
		await server?.stop();
		await Promise.all([stage0?.close(), upstream?.close()]);
	});

	it("says so loudly in GET / and in the start-up log", async () => {
		const body = (await (await fetch(`${server.origin}/`)).json()) as Record<string, unknown>;
		expect(body.guard_mode).toBe("shadow");
		expect(body.warning).toMatch(/SHADOW MODE/);
		expect(server.output()).toContain("SHADOW MODE (GUARD_MODE=shadow)");
	});

	it("forwards a call enforce mode would block, and says would_block in _meta and in the audit record", async () => {
		const client = await connect(server.origin);
		const before = upstream.calls["delete-record"] ?? 0;
		const r = await call(client, "upstream.delete-record", { id: "r-1" });
		expect(r.content).toEqual([{ type: "text", text: "deleted r-1" }]);
		expect(r._meta!.guard).toMatchObject({ verdict: "DENY", mode: "shadow", would_block: true, executed: true });
		expect(r._meta!.guard.reason).toContain("SIDE_EFFECTS_NEED_GUARDRAILS");
		expect(r._meta!.guard.approval).toBeUndefined();
		expect(upstream.calls["delete-record"]).toBe(before + 1);
		const record = await auditRecord(server.origin, r._meta!.guard.request_id);
		expect(record).toMatchObject({
			tool: "upstream.delete-record",
			verdict: "DENY",
			source: "stage0",
			mode: "shadow",
			would_block: true,
			outcome: "executed",
		});

		const allowed = await call(client, "upstream.search", { query: "x" });
		expect(allowed._meta!.guard).toMatchObject({ verdict: "ALLOW", would_block: false });
		await client.close();
	});

	it("records a Stage0 fault as a fault, still runs the call, and the record says so", async () => {
		const client = await connect(server.origin);
		const before = upstream.calls.search ?? 0;
		stage0.setBehaviour({ kind: "status", status: 503 }, 2); // the guard retries a 5xx once
		const r = await call(client, "upstream.search", { query: "during an outage" });
		expect(r.content).toEqual([{ type: "text", text: "found 3 records for during an outage" }]);
		expect(r._meta!.guard).toMatchObject({ decision: "ERROR", source: "fault", would_block: true, executed: true });
		expect(upstream.calls.search).toBe(before + 1);
		const record = await auditRecord(server.origin, r._meta!.guard.request_id);
		expect(record).toMatchObject({ source: "fault", decision: "ERROR", would_block: true, outcome: "executed" });
		await client.close();
	});

	it("keeps enforcing on the built-in tools", async () => {
		const client = await connect(server.origin);
		const r = await call(client, "publish-content", { content: "hello", channel: "blog" });
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		await client.close();
	});
});

describe("BUILTIN_TOOLS=false, and an upstream that is down at start-up", () => {
	let server: DevServer;
	let late: UpstreamMcp | undefined;
	let port: number;
	beforeAll(async () => {
		port = await freePort();
		server = await startDevServer({
			vars: { UPSTREAM_MCP_URL: `http://127.0.0.1:${port}/mcp`, UPSTREAM_NAME: "late", BUILTIN_TOOLS: "false" },
		});
	});
	afterAll(async () => {
		await server?.stop();
		await late?.close();
	});

	it("serves without the upstream, lists its tools once it answers, and never lists the built-in tools", async () => {
		const client = await connect(server.origin);
		const first = (await client.listTools()).tools.map((t) => t.name);
		expect(first).not.toContain("research-topic");
		expect(first.some((n) => n.startsWith("late."))).toBe(false);
		expect(first).toContain("audit-log");
		const down = await call(client, "refresh-upstream-tools", {});
		expect(down.content[0].text).toMatch(/late: error, 0 tools \(last error: upstream 'late' is unreachable/);

		late = await startUpstreamMcp({ port });
		let names: string[] = [];
		for (let i = 0; i < 100 && !names.includes("late.search"); i++) {
			await new Promise((r) => setTimeout(r, 200));
			names = (await client.listTools()).tools.map((t) => t.name);
		}
		expect(names).toContain("late.search");
		expect((await call(client, "late.search", { query: "now" })).content).toEqual([{ type: "text", text: "found 3 records for now" }]);
		await client.close();
	});
});
