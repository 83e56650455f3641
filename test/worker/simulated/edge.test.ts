/**
 * The Worker's edge, in loopback mode: which web pages may drive it (Origin),
 * and that every hostile request gets a JSON error, never a stack (issue 8, items 5 and 9).
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, connect, workerWith } from "../support/mcp";

const initialize = JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});
const MCP_HEADERS = { accept: "application/json, text/event-stream", "content-type": "application/json" };

function send(path: string, init: RequestInit = {}, via = (r: Request) => exports.default.fetch(r)) {
	return via(new Request(`http://localhost:8787${path}`, init));
}

async function expectJsonError(res: Response, status: number) {
	expect(res.status).toBe(status);
	expect(res.headers.get("content-type")).toContain("application/json");
	const text = await res.text();
	expect(text).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack frames
	return JSON.parse(text);
}

/** Opens a legacy SSE session; returns its id and a way to close the stream. */
async function openSse() {
	const res = await send("/sse", { headers: { accept: "text/event-stream" } });
	expect(res.status).toBe(200);
	const reader = res.body!.getReader();
	let text = "";
	while (!/sessionId=([^\s&]+)/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
	return { sessionId: /sessionId=([^\s&]+)/.exec(text)![1], close: () => reader.cancel() };
}

describe("Origin: only the server's own pages and ALLOWED_ORIGINS may drive it", () => {
	it.each(["/mcp", "/sse", "/api/approvals", "/api/audit", "/"])("refuses a foreign page on %s with 403 JSON", async (path) => {
		const res = await send(path, {
			method: path === "/mcp" ? "POST" : "GET",
			headers: { ...MCP_HEADERS, origin: "https://evil.example" },
			body: path === "/mcp" ? initialize : undefined,
		});
		const body = await expectJsonError(res, 403);
		expect(body.error).toBe("origin_not_allowed");
		expect(res.headers.get("access-control-allow-origin")).toBeNull();
	});

	it("refuses a foreign page's preflight, without CORS headers", async () => {
		const res = await send("/mcp", {
			method: "OPTIONS",
			headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
		});
		expect(res.status).toBe(403);
		expect(res.headers.get("access-control-allow-origin")).toBeNull();
	});

	it("serves a request without Origin (not a browser) or from its own origin, and never says '*'", async () => {
		for (const headers of [MCP_HEADERS, { ...MCP_HEADERS, origin: "http://localhost:8787" }]) {
			const res = await send("/mcp", { method: "POST", headers, body: initialize });
			expect(res.status).toBe(200);
			expect(res.headers.get("access-control-allow-origin")).not.toBe("*");
			await res.body?.cancel();
		}
	});

	it("answers a page listed in ALLOWED_ORIGINS, with CORS headers naming exactly that page", async () => {
		const via = workerWith({ ALLOWED_ORIGINS: "https://inspector.example, http://localhost:6274" });
		const preflight = await send(
			"/mcp",
			{ method: "OPTIONS", headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" } },
			via,
		);
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:6274");
		expect(preflight.headers.get("access-control-allow-headers")).toMatch(/authorization/i);
		const res = await send(
			"/mcp",
			{ method: "POST", headers: { ...MCP_HEADERS, origin: "https://inspector.example" }, body: initialize },
			via,
		);
		expect(res.status).toBe(200);
		expect(res.headers.get("access-control-allow-origin")).toBe("https://inspector.example");
		expect(res.headers.get("access-control-expose-headers")).toMatch(/mcp-session-id/i);
		await res.body?.cancel();
	});
});

describe("every route answers a JSON error, never a stack", () => {
	it("GET /api/audit/% is a 400, not a URIError", async () => {
		const body = await expectJsonError(await send("/api/audit/%"), 400);
		expect(body.message).toMatch(/URL/);
	});

	it.each([
		["{}", /Invalid Request/],
		["[]", /empty batch/i],
		["not json", /Parse error/],
		[JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "ping" }]), /one JSON-RPC message/],
	])("POST /sse/message with %s is a 400 JSON-RPC error", async (payload, message) => {
		const sse = await openSse();
		const res = await send(`/sse/message?sessionId=${sse.sessionId}`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: payload,
		});
		const body = await expectJsonError(res, 400);
		expect(body).toMatchObject({ jsonrpc: "2.0", error: { message } });
		await sse.close();
	});

	it("an empty batch on /mcp is a 400", async () => {
		const body = await expectJsonError(await send("/mcp", { method: "POST", headers: MCP_HEADERS, body: "[]" }), 400);
		expect(body.error.message).toMatch(/empty batch/i);
	});

	it("a 3,000-deep nested argument is refused before it reaches a session", async () => {
		const client = await connect();
		const deep = "[".repeat(3000) + "]".repeat(3000);
		const sessionId = (client.transport as { sessionId?: string }).sessionId!;
		const body = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"research-topic","arguments":{"topic":${deep}}}}`;
		const res = await send("/mcp", {
			method: "POST",
			headers: { ...MCP_HEADERS, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
			body,
		});
		const json = await expectJsonError(res, 400);
		expect(json.error.message).toMatch(/nested deeper than 64/);
		const sse = await openSse();
		const viaSse = await send(`/sse/message?sessionId=${sse.sessionId}`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body,
		});
		expect((await expectJsonError(viaSse, 400)).error.message).toMatch(/nested deeper than 64/);
		await sse.close();
		expect((await call(client, "research-topic", { topic: "still serving" })).structuredContent!.verdict).toBe("ALLOW");
		await client.close();
	});

	it("an unknown path, a wrong method and a GET /sse with a chosen session id are JSON errors", async () => {
		await expectJsonError(await send("/nope"), 404);
		await expectJsonError(await send("/mcp", { method: "PUT", headers: MCP_HEADERS, body: "{}" }), 405);
		const chosen = await expectJsonError(await send("/sse?sessionId=mine", { headers: { accept: "text/event-stream" } }), 400);
		expect(chosen.error.message).toMatch(/sessionId/);
	});
});
