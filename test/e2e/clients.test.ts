/**
 * The real thing: `wrangler dev` with the Stage0 stand-in on loopback as its
 * Stage0, used through the official MCP SDK client (Streamable HTTP and SSE)
 * and through `mcp-remote`, the stdio bridge Claude Desktop uses.
 */
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../scripts/lib/dev-server";
import { STANDIN_POLICY_VERSION, type Stage0StandIn, startStage0StandIn } from "../support/stage0-standin";
import type { ToolResult } from "../support/results";

const KEY = "sk-e2e-7f3a9c1d2b4e6f80";
let stage0: Stage0StandIn;
let server: DevServer;

beforeAll(async () => {
	stage0 = await startStage0StandIn({ apiKey: KEY });
	server = await startDevServer({
		vars: { STAGE0_API_KEY: KEY, STAGE0_BASE_URL: stage0.url, STAGE0_TIMEOUT_MS: "1500" },
	});
});
afterAll(async () => {
	await server?.stop();
	await stage0?.close();
});

type Result = ToolResult;

async function expectGuardedCalls(client: Client) {
	const { tools } = await client.listTools();
	expect(tools).toHaveLength(7); // six guarded tools and audit-log
	const ok = (await client.callTool({ name: "research-topic", arguments: { topic: "zero trust for agents" } })) as Result;
	expect(ok.structuredContent).toMatchObject({
		verdict: "ALLOW",
		policy_version: STANDIN_POLICY_VERSION,
		source: "stage0",
		executed: true,
	});
	const blocked = (await client.callTool({ name: "publish-content", arguments: { content: "hi", channel: "blog" } })) as Result;
	expect(blocked.isError).toBe(true);
	expect(blocked.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
	// The id in the result is the one Stage0 gave: a person can find the decision.
	expect(blocked.structuredContent!.request_id).toMatch(/^[0-9a-f-]{36}$/);
}

describe("wrangler dev + Stage0 stand-in", () => {
	it("describes itself in remote mode, without the key", async () => {
		const res = await fetch(`${server.origin}/`);
		const text = await res.text();
		expect(JSON.parse(text).mode).toBe("stage0");
		expect(text).not.toContain(KEY);
		expect(server.output()).toContain("stage0 mode");
		expect(server.output()).not.toContain(KEY);
	});

	it("works with the SDK client over Streamable HTTP, and Stage0 sees the key", async () => {
		const before = stage0.received.length;
		const client = new Client({ name: "e2e", version: "1" });
		await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`)));
		await expectGuardedCalls(client);
		await client.close();
		const got = stage0.received.slice(before);
		expect(got).toHaveLength(2);
		expect(got[0].headers["x-api-key"]).toBe(KEY);
		expect(got[0].body.context).toMatchObject({ current_tool: "research-topic" });
	});

	it("works with the SDK client over legacy SSE", async () => {
		const client = new Client({ name: "e2e-sse", version: "1" });
		await client.connect(new SSEClientTransport(new URL(`${server.origin}/sse`)));
		await expectGuardedCalls(client);
		await client.close();
	});

	it("works through mcp-remote, the stdio bridge of Claude Desktop", async () => {
		const client = new Client({ name: "e2e-mcp-remote", version: "1" });
		const transport = new StdioClientTransport({
			command: resolve("node_modules/.bin/mcp-remote"),
			args: [`${server.origin}/mcp`, "--allow-http", "--transport", "http-only"],
			env: { ...(process.env as Record<string, string>), MCP_REMOTE_CONFIG_DIR: resolve(".wrangler/mcp-remote-e2e") },
			stderr: "pipe",
		});
		await client.connect(transport);
		await expectGuardedCalls(client);
		await client.close();
	});

	it("fails closed when Stage0 hangs, within STAGE0_TIMEOUT_MS, and serves again after", async () => {
		const client = new Client({ name: "e2e-timeout", version: "1" });
		await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`)));
		stage0.setBehaviour({ kind: "hang" }, 1);
		const started = Date.now();
		const r = (await client.callTool({ name: "research-topic", arguments: { topic: "timeouts" } })) as Result;
		expect(Date.now() - started).toBeLessThan(5000);
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ decision: "ERROR", executed: false });
		expect(r.content[0].text).toContain("did not answer within 1500 ms");
		const again = (await client.callTool({ name: "research-topic", arguments: { topic: "timeouts" } })) as Result;
		expect(again.structuredContent!.verdict).toBe("ALLOW");
		await client.close();
	});

	it("says the key was rejected when Stage0 answers 401, without showing it", async () => {
		const client = new Client({ name: "e2e-401", version: "1" });
		await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`)));
		stage0.setBehaviour({ kind: "status", status: 401, body: { detail: `Invalid API key ${KEY}` } }, 1);
		const r = (await client.callTool({ name: "research-topic", arguments: { topic: "keys" } })) as Result;
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toContain("rejected the API key");
		expect(JSON.stringify(r)).not.toContain(KEY);
		await client.close();
	});
});
