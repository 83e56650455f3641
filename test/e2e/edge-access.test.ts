/**
 * Who may reach the real `wrangler dev`, where the runtime matters: under
 * wrangler dev the Worker cannot see the peer's address (CF-Connecting-IP and
 * Host are whatever the client sent), so a server without tokens serves only
 * when the launcher attests its loopback bind. With tokens, the `mcp-remote`
 * header form the README gives for Claude Desktop on Windows and Cursor works.
 */
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../scripts/lib/dev-server";
import { TOKENS, tokenTableJson } from "../support/test-tokens";

/** Vars that make every test independent of a developer's .dev.vars: simulated mode. */
const HERMETIC = { STAGE0_API_KEY: "", STAGE0_BASE_URL: "http://127.0.0.1:9" };
const servers: DevServer[] = [];
afterAll(async () => {
	await Promise.all(servers.map((s) => s.stop()));
});

const initialize = JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

describe("without MCP_AUTH_TOKENS and without the launcher's loopback attestation", () => {
	let server: DevServer;
	beforeAll(async () => {
		server = await startDevServer({ attestLoopback: false, vars: { ...HERMETIC, MCP_AUTH_TOKENS: "" } });
		servers.push(server);
	});

	it("serves no one, whatever the client claims, and says so at start-up", async () => {
		for (const claim of ["127.0.0.1", "::1", "127.9.9.9", "::ffff:127.0.0.1"]) {
			const res = await fetch(`${server.origin}/mcp`, {
				method: "POST",
				headers: {
					accept: "application/json, text/event-stream",
					"content-type": "application/json",
					"cf-connecting-ip": claim,
					host: "localhost",
				},
				body: initialize,
			});
			expect(res.status).toBe(503);
			expect(await res.json()).toMatchObject({ error: "loopback_not_attested" });
		}
		expect(server.output()).toMatch(/REFUSING every call/);
		expect(((await (await fetch(`${server.origin}/health`)).json()) as { authentication: string }).authentication).toBe("refusing");
	});
});

describe("with tokens, under wrangler dev", () => {
	let server: DevServer;
	beforeAll(async () => {
		server = await startDevServer({ vars: { ...HERMETIC, MCP_AUTH_TOKENS: tokenTableJson() } });
		servers.push(server);
	});

	it("works through mcp-remote with the space-free header form (Claude Desktop on Windows, Cursor)", async () => {
		const client = new Client({ name: "e2e-mcp-remote-header", version: "1" });
		const transport = new StdioClientTransport({
			command: resolve("node_modules/.bin/mcp-remote"),
			// Exactly the README's args: no space inside any of them; the space is in the env var.
			args: [`${server.origin}/mcp`, "--allow-http", "--transport", "http-only", "--header", "Authorization:${AUTH_HEADER}"],
			env: {
				...(process.env as Record<string, string>),
				AUTH_HEADER: `Bearer ${TOKENS.alice.token}`,
				MCP_REMOTE_CONFIG_DIR: resolve(".wrangler/mcp-remote-e2e-header"),
			},
			stderr: "pipe",
		});
		await client.connect(transport);
		const r = (await client.callTool({ name: "audit-log", arguments: {} })) as { isError?: boolean };
		expect(r.isError).toBeFalsy();
		expect((await client.listTools()).tools.map((t) => t.name)).toContain("publish-content"); // alice is a developer
		await client.close();
	});

	it("answers hostile requests with JSON, never the runtime's error page (which lists the request headers)", async () => {
		const auth = { authorization: `Bearer ${TOKENS.bob.token}` };
		const cases: [string, RequestInit, number][] = [
			["/api/audit/%", { headers: auth }, 400],
			[
				"/sse/message?sessionId=never-opened",
				{ method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}" },
				400,
			],
			[
				"/sse/message?sessionId=never-opened",
				{ method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "[]" },
				400,
			],
			["/mcp", { method: "DELETE", headers: { ...auth, "mcp-session-id": "someone-elses" } }, 404],
			[
				"/mcp",
				{ method: "POST", headers: { ...auth, origin: "https://evil.example", "content-type": "application/json" }, body: initialize },
				403,
			],
			["/mcp", { method: "POST", headers: { authorization: "bearer" }, body: initialize }, 400],
		];
		for (const [path, init, status] of cases) {
			const res = await fetch(`${server.origin}${path}`, init);
			const text = await res.text();
			expect([path, res.status]).toEqual([path, status]);
			expect(() => JSON.parse(text)).not.toThrow();
			expect(text).not.toContain(TOKENS.bob.token);
		}
	});

	it("says plainly in a 401 that a bearer token is needed and how to get one", async () => {
		const res = await fetch(`${server.origin}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: initialize });
		expect(res.status).toBe(401);
		expect(res.headers.get("www-authenticate")).toMatch(/Bearer realm="stage0-edge-guard".*bearer token is required/);
		expect(((await res.json()) as { message: string }).message).toMatch(/Authorization: Bearer <token>.*token:new/);
	});
});
