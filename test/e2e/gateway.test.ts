/**
 * Gateway mode end to end: wrangler dev in front of two upstream MCP servers
 * (the SDK's own server on loopback, one over Streamable HTTP, one that only
 * speaks legacy SSE) and a third that is down, with the Stage0 stand-in as
 * Stage0 and bearer tokens configured. Clients: the official SDK client over
 * /mcp and /sse, and mcp-remote.
 */
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, startDevServer } from "../../scripts/lib/dev-server";
import { STANDIN_POLICY_VERSION, type Stage0StandIn, startStage0StandIn } from "../support/stage0-standin";
import { TOKENS, tokenTableJson } from "../support/test-tokens";
import { startUpstreamMcp, type UpstreamMcp } from "../support/upstream-mcp";
import { type ApiAnswer, heldApproval, type ToolResult } from "../support/results";

const KEY = "sk-e2e-gateway-5c1e9a7b3d2f4e60";
const FILES_SECRET = "Bearer files-upstream-secret-0a1b2c3d";
const LEGACY_SECRET = "legacy-upstream-secret-9z8y7x6w";
let stage0: Stage0StandIn;
let files: UpstreamMcp;
let legacy: UpstreamMcp;
let server: DevServer;

type Result = ToolResult;

beforeAll(async () => {
	stage0 = await startStage0StandIn({ apiKey: KEY });
	files = await startUpstreamMcp();
	legacy = await startUpstreamMcp({ sseOnly: true });
	const downPort = await freePort();
	server = await startDevServer({
		vars: {
			STAGE0_API_KEY: KEY,
			STAGE0_BASE_URL: stage0.url,
			STAGE0_TIMEOUT_MS: "3000",
			MCP_AUTH_TOKENS: tokenTableJson(),
			UPSTREAM_MCP_URL: files.url,
			UPSTREAM_NAME: "files",
			UPSTREAM_MCP_HEADERS: JSON.stringify({ Authorization: FILES_SECRET }),
			UPSTREAMS: JSON.stringify({
				legacy: { url: legacy.sseUrl, headers: { "X-Legacy-Key": LEGACY_SECRET } },
				down: { url: `http://127.0.0.1:${downPort}/mcp`, headers: { "X-Down-Key": "down-secret-value-1234" } },
			}),
			UPSTREAM_TIMEOUT_MS: "1500",
		},
	});
});
afterAll(async () => {
	await server?.stop();
	await Promise.all([stage0?.close(), files?.close(), legacy?.close()]);
});

const bearer = (who: keyof typeof TOKENS) => ({ Authorization: `Bearer ${TOKENS[who].token}` });

async function connect(who: keyof typeof TOKENS, over: "mcp" | "sse" = "mcp"): Promise<Client> {
	const client = new Client({ name: `e2e-gateway-${who}`, version: "1" });
	const url = new URL(`${server.origin}/${over}`);
	const requestInit = { headers: bearer(who) };
	await client.connect(
		over === "mcp"
			? new StreamableHTTPClientTransport(url, { requestInit })
			: new SSEClientTransport(url, {
					requestInit,
					eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as object), ...bearer(who) } }) },
				}),
	);
	return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) =>
	(await client.callTool({ name, arguments: args })) as Result;

async function auditRecord(who: keyof typeof TOKENS, requestId: string) {
	// Records reach the principal's audit log a few milliseconds after the call.
	for (let i = 0; i < 50; i++) {
		const res = await fetch(`${server.origin}/api/audit/${requestId}`, { headers: bearer(who) });
		if (res.ok) {
			const body = (await res.json()) as Pick<ApiAnswer, "records">;
			if (body.records.length && body.records.every((r) => r.outcome !== "pending")) return body.records[0];
		}
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`no final audit record for ${requestId}`);
}

describe("gateway mode: listing", () => {
	it("lists each upstream's tools as <name>.<tool> with their schemas and annotations, next to the built-in tools", async () => {
		const client = await connect("alice");
		const { tools } = await client.listTools();
		const names = tools.map((t) => t.name);
		for (const t of ["search", "delete-record", "touch", "slow", "report", "whoami", "garbage"]) {
			expect(names).toContain(`files.${t}`);
			expect(names).toContain(`legacy.${t}`);
		}
		expect(names).toContain("research-topic");
		expect(names.some((n) => n.startsWith("down."))).toBe(false);
		const report = tools.find((t) => t.name === "files.report")!;
		expect(report.inputSchema).toMatchObject({ type: "object", properties: { topic: { type: "string" } }, required: ["topic"] });
		expect(report.outputSchema).toMatchObject({ type: "object", required: ["topic", "count", "items"] });
		expect(tools.find((t) => t.name === "files.search")).toMatchObject({ title: "Search records", annotations: { readOnlyHint: true } });
		expect(tools.find((t) => t.name === "files.touch")!.annotations).toBeUndefined();
		await client.close();
	});

	it("shows a viewer only the upstream tools its role could ever call", async () => {
		const client = await connect("victor");
		const names = (await client.listTools()).tools.map((t) => t.name);
		expect(names).toEqual(expect.arrayContaining(["files.search", "files.report", "legacy.search"]));
		expect(names).not.toContain("files.delete-record");
		expect(names).not.toContain("files.touch");
		await client.close();
	});

	it("GET / lists the upstreams with their state and never their headers", async () => {
		const text = await (await fetch(`${server.origin}/`)).text();
		const body = JSON.parse(text);
		const byName = Object.fromEntries(body.upstreams.map((u: { name: string }) => [u.name, u]));
		expect(byName.files).toMatchObject({ state: "connected", tools: 7, transport: "streamable-http" });
		expect(byName.legacy).toMatchObject({ state: "connected", tools: 7, transport: "sse" });
		expect(byName.down).toMatchObject({ state: "error", tools: 0 });
		expect(byName.down.last_error).toContain("upstream 'down' is unreachable");
		expect(body.guard_mode).toBe("enforce");
		for (const secret of [FILES_SECRET, LEGACY_SECRET, "down-secret-value-1234", KEY]) expect(text).not.toContain(secret);
	});
});

describe("gateway mode: calls", () => {
	it("forwards an ALLOWed read and returns the upstream's own result, plus the decision in _meta", async () => {
		const client = await connect("alice");
		const before = files.calls.search ?? 0;
		const checks = stage0.received.length;
		const r = await call(client, "files.search", { query: "invoices" });
		expect(r.isError).toBeUndefined();
		expect(r.content).toEqual([{ type: "text", text: "found 3 records for invoices" }]);
		expect(r._meta!.guard).toMatchObject({ verdict: "ALLOW", policy_version: STANDIN_POLICY_VERSION, source: "stage0", executed: true });
		expect(files.calls.search).toBe(before + 1);
		// What Stage0 was asked: the upstream tool, read-only, the true caller.
		const asked = stage0.received[checks].body;
		expect(asked.tools).toEqual(["files.search"]);
		expect(asked.side_effects).toEqual([]);
		expect(asked.context).toMatchObject({ upstream: "files", tool: "search", actor_id: "alice", actor_role: "developer" });
		expect(asked.context.args_sha256).toMatch(/^[0-9a-f]{64}$/);

		const report = await call(client, "files.report", { topic: "q3" });
		expect(report.structuredContent).toEqual({ topic: "q3", count: 2, items: ["a", "b"] });
		expect(report._meta!.guard.verdict).toBe("ALLOW");
		await client.close();
	});

	it("never forwards a DENYed or DEFERred call, and says so like a built-in tool", async () => {
		const client = await connect("alice");
		const deletes = files.calls["delete-record"] ?? 0;
		const denied = await call(client, "files.delete-record", { id: "r-1" });
		expect(denied.isError).toBe(true);
		expect(denied.content[0].text).toContain("TOOL CALL BLOCKED: files.delete-record");
		expect(denied.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		expect(denied.structuredContent!.approval).toMatchObject({ status: "pending" });
		expect(files.calls["delete-record"] ?? 0).toBe(deletes);
		expect(stage0.received.at(-1)!.body.side_effects).toEqual(["write", "destructive"]);

		const searches = files.calls.search ?? 0;
		stage0.setBehaviour({ kind: "verdict", verdict: "DEFER" }, 1);
		const deferred = await call(client, "files.search", { query: "later" });
		expect(deferred.isError).toBe(true);
		expect(deferred.structuredContent).toMatchObject({ verdict: "DEFER", questions: ["Who approved this?"] });
		expect(files.calls.search).toBe(searches);

		// A tool without annotations is asked about as one with every side effect.
		const touches = files.calls.touch ?? 0;
		const touched = await call(client, "files.touch", { id: "r-2" });
		expect(touched.isError).toBe(true);
		expect(stage0.received.at(-1)!.body.side_effects).toEqual(["write", "destructive", "external"]);
		expect(files.calls.touch ?? 0).toBe(touches);
		await client.close();
	});

	it("forwards an approved retry exactly once", async () => {
		const client = await connect("alice");
		const denied = await call(client, "files.delete-record", { id: "r-9" });
		const id = heldApproval(denied).id;
		const approve = await fetch(`${server.origin}/api/approvals/${id}/approve`, {
			method: "POST",
			headers: { ...bearer("bob"), "content-type": "application/json" },
			body: JSON.stringify({ note: "ok" }),
		});
		expect(approve.status).toBe(200);
		const before = files.calls["delete-record"] ?? 0;
		// The stand-in applies the simulator's policy: an approval covers the side effects.
		const ran = await call(client, "files.delete-record", { id: "r-9", approvalId: id });
		expect(ran.content).toEqual([{ type: "text", text: "deleted r-9" }]);
		expect(ran._meta!.guard).toMatchObject({ verdict: "ALLOW", executed: true });
		const again = await call(client, "files.delete-record", { id: "r-9", approvalId: id });
		expect(again.isError).toBe(true);
		expect(files.calls["delete-record"]).toBe(before + 1);
		await client.close();
	});

	it("refuses arguments that do not match the upstream's input schema, before anything is asked", async () => {
		const client = await connect("alice");
		const checks = stage0.received.length;
		const r = await call(client, "files.search", { query: 42 });
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toMatch(/Invalid arguments for tool files.search/);
		expect(stage0.received.length).toBe(checks);
		await client.close();
	});

	it("gives a clear error naming the upstream when it is too slow, and records the call as failed", async () => {
		const client = await connect("alice");
		const started = Date.now();
		const r = await call(client, "files.slow", { ms: 4000 });
		expect(Date.now() - started).toBeLessThan(3500);
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toContain("upstream 'files' did not answer within 1500 ms");
		const record = await auditRecord("alice", r._meta!.guard.request_id);
		expect(record).toMatchObject({ tool: "files.slow", verdict: "ALLOW", outcome: "failed" });
		expect(record.error).toContain("did not answer within 1500 ms");
		// The connection is still good for the next call.
		expect((await call(client, "files.search", { query: "after" })).isError).toBeUndefined();
		await client.close();
	});

	it("gives a clear error when the upstream answers something that is not MCP", async () => {
		const client = await connect("alice");
		const r = await call(client, "files.garbage", {});
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toContain("upstream 'files' did not answer in MCP");
		expect(files.calls.garbage).toBeGreaterThan(0);
		const record = await auditRecord("alice", r._meta!.guard.request_id);
		expect(record.outcome).toBe("failed");
		await client.close();
	});

	it("refreshes the list on notifications/tools/list_changed, and says clearly when a tool vanished", async () => {
		const client = await connect("alice");
		files.addTool("fresh");
		let names: string[] = [];
		for (let i = 0; i < 50 && !names.includes("files.fresh"); i++) {
			await new Promise((r) => setTimeout(r, 100));
			names = (await client.listTools()).tools.map((t) => t.name);
		}
		expect(names).toContain("files.fresh");
		expect((await call(client, "files.fresh", {})).content).toEqual([{ type: "text", text: "fresh ran" }]);

		files.removeToolSilently("fresh");
		const gone = await call(client, "files.fresh", {});
		expect(gone.isError).toBe(true);
		expect(gone.content[0].text).toContain("upstream 'files' no longer offers the tool 'fresh'");
		expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("files.fresh");
		await client.close();
	});

	it("reuses one upstream connection per session for all its calls", async () => {
		const client = await connect("alice");
		const opened = files.sessionsOpened();
		for (let i = 0; i < 20; i++) await call(client, "files.search", { query: `q${i}` });
		expect(files.sessionsOpened()).toBe(opened);
		await client.close();
	});

	it("never passes an upstream's header value on to the caller, even when the upstream echoes it", async () => {
		const client = await connect("alice");
		const r = await call(client, "files.whoami", {});
		expect(files.calls.whoami).toBeGreaterThan(0);
		expect(r.content[0].text).toBe("you are [redacted]");
		expect(JSON.stringify(r)).not.toContain("files-upstream-secret-0a1b2c3d");
		await client.close();
	});

	it("never shows an upstream the caller's token, the Stage0 key or another upstream's headers", async () => {
		const all = (u: UpstreamMcp) => JSON.stringify(u.headers);
		expect(files.headers.length).toBeGreaterThan(0);
		expect(legacy.headers.length).toBeGreaterThan(0);
		for (const token of Object.values(TOKENS)) {
			expect(all(files)).not.toContain(token.token);
			expect(all(legacy)).not.toContain(token.token);
		}
		for (const u of [files, legacy]) expect(all(u)).not.toContain(KEY);
		expect(files.headers.every((h) => h.authorization === FILES_SECRET)).toBe(true);
		expect(all(files)).not.toContain(LEGACY_SECRET);
		expect(legacy.headers.every((h) => h["x-legacy-key"] === LEGACY_SECRET && h.authorization === undefined)).toBe(true);
		// Nor does any header value reach the log or the audit trail.
		for (const secret of [FILES_SECRET, "files-upstream-secret-0a1b2c3d", LEGACY_SECRET, "down-secret-value-1234"]) {
			expect(server.output()).not.toContain(secret);
		}
		const audit = await (await fetch(`${server.origin}/api/audit?limit=500`, { headers: bearer("bob") })).text();
		expect(audit).toContain("files.search");
		for (const secret of ["files-upstream-secret-0a1b2c3d", LEGACY_SECRET]) expect(audit).not.toContain(secret);
	});
});

describe("gateway mode: clients", () => {
	it("works over legacy SSE with the SDK client, with both upstreams", async () => {
		const client = await connect("alice", "sse");
		expect((await call(client, "legacy.search", { query: "old" })).content).toEqual([{ type: "text", text: "found 3 records for old" }]);
		expect((await call(client, "files.search", { query: "new" })).content).toEqual([{ type: "text", text: "found 3 records for new" }]);
		expect((await call(client, "legacy.delete-record", { id: "x" })).isError).toBe(true);
		expect(legacy.calls["delete-record"] ?? 0).toBe(0);
		await client.close();
	});

	for (const over of ["mcp", "sse"] as const) {
		it(`works through mcp-remote over /${over}`, async () => {
			const client = new Client({ name: `e2e-gateway-mcp-remote-${over}`, version: "1" });
			const transport = new StdioClientTransport({
				command: resolve("node_modules/.bin/mcp-remote"),
				args: [
					`${server.origin}/${over}`,
					"--allow-http",
					"--transport",
					over === "mcp" ? "http-only" : "sse-only",
					"--header",
					`Authorization: Bearer ${TOKENS.alice.token}`,
				],
				env: { ...(process.env as Record<string, string>), MCP_REMOTE_CONFIG_DIR: resolve(`.wrangler/mcp-remote-gateway-${over}`) },
				stderr: "pipe",
			});
			await client.connect(transport);
			const names = (await client.listTools()).tools.map((t) => t.name);
			expect(names).toContain("legacy.report");
			const r = (await client.callTool({ name: "legacy.report", arguments: { topic: over } })) as Result;
			expect(r.structuredContent).toEqual({ topic: over, count: 2, items: ["a", "b"] });
			expect(r._meta!.guard.verdict).toBe("ALLOW");
			await client.close();
		});
	}
});
