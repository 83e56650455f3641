/** Bearer tokens: who is calling is decided before any session is touched. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { operatorHashHex, TOKENS, tokenTableJson } from "../../support/test-tokens";
import { attemptOf, call, connect, heldApproval } from "../support/mcp";

const initialize = JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

function post(path: string, headers: Record<string, string>, host = "localhost") {
	return exports.default.fetch(
		new Request(`http://${host}${path}`, {
			method: "POST",
			headers: { accept: "application/json, text/event-stream", "content-type": "application/json", ...headers },
			body: initialize,
		}),
	);
}

describe("with MCP_AUTH_TOKENS set", () => {
	it.each([
		["no Authorization header", {}, "invalid_request"],
		["an unknown token", { authorization: "Bearer sg_not_a_real_token_at_all_000000" }, "invalid_token"],
		["another scheme", { authorization: "Basic dXNlcjpwYXNz" }, "invalid_request"],
	])("refuses %s with 401, saying plainly that a bearer token is needed and how to get one", async (_n, headers, code) => {
		for (const path of ["/mcp", "/sse", "/api/approvals"]) {
			const res = await post(path, headers);
			expect(res.status).toBe(401);
			const challenge = res.headers.get("www-authenticate")!;
			expect(challenge).toMatch(/^Bearer realm="stage0-edge-guard"/);
			expect(challenge).toMatch(/error_description="[^"]*bearer token/i);
			const body = await res.json<{ error: string; message: string }>();
			expect(body.error).toBe(code);
			expect(body.message).toMatch(/Authorization: Bearer <token>/);
			expect(body.message).toMatch(/token:new/);
			expect(res.headers.get("mcp-session-id")).toBeNull();
		}
	});

	it.each([
		["a token with a space", `Bearer ${TOKENS.alice.token} x`],
		["a token with a character tokens never have", `Bearer ${TOKENS.alice.token}!`],
		["a scheme without a token", "Bearer"],
		["a token of 5000 characters", `Bearer ${"a".repeat(5000)}`],
	])("refuses %s as a malformed request: 400 invalid_request", async (_n, authorization) => {
		const res = await post("/mcp", { authorization });
		expect(res.status).toBe(400);
		expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_request"/);
		expect(await res.json()).toMatchObject({ error: "invalid_request", message: expect.stringMatching(/Malformed Authorization/) });
	});

	it.each(["bearer", "BEARER", "BeArEr"])("accepts the scheme written %s (RFC 7235: case-insensitive)", async (scheme) => {
		const res = await post("/mcp", { authorization: `${scheme} ${TOKENS.alice.token}` });
		expect(res.status).toBe(200);
		await res.body?.cancel();
	});

	it("does not build approval links from the request's Host when PUBLIC_URL is not set", async () => {
		const client = await connect("streamable", TOKENS.alice.token, (r) =>
			exports.default.fetch(new Request(r.url.replace("//localhost", "//evil.example"), r)),
		);
		const held = await call(client, "publish-content", { content: "hello", channel: "blog" });
		expect(heldApproval(held).url).toMatch(/^\/approvals#/);
		expect(JSON.stringify(held)).not.toContain("evil.example");
		await client.close();
	});

	it("serves a valid token, and only tells the caller its own identity", async () => {
		const res = await post("/mcp", { authorization: `Bearer ${TOKENS.alice.token}` });
		expect(res.status).toBe(200);
		expect(res.headers.get("mcp-session-id")).toBeTruthy();
		await res.body?.cancel();
	});

	it("says on / that bearer authentication is on, without any token or hash", async () => {
		const text = await (await exports.default.fetch(new Request("http://localhost/"))).text();
		expect(JSON.parse(text).authentication).toBe("bearer");
		const hashes = Object.keys(JSON.parse(tokenTableJson()) as Record<string, unknown>);
		expect(hashes).toHaveLength(Object.keys(TOKENS).length);
		for (const secret of [...Object.values(TOKENS).map((t) => t.token), ...hashes, operatorHashHex()]) expect(text).not.toContain(secret);
	});

	it("keeps a session to the principal that opened it", async () => {
		const alice = await connect("streamable", TOKENS.alice.token);
		await call(alice, "retry-workflow", { workflowId: "wf" });
		const sessionId = (alice.transport as { sessionId?: string }).sessionId!;
		expect(sessionId).toBeTruthy();
		// bob presents alice's session id: it means nothing with his credentials
		const res = await exports.default.fetch(
			new Request("http://localhost/mcp", {
				method: "POST",
				headers: {
					accept: "application/json, text/event-stream",
					"content-type": "application/json",
					"mcp-session-id": sessionId,
					"mcp-protocol-version": "2025-06-18",
					authorization: `Bearer ${TOKENS.bob.token}`,
				},
				body: JSON.stringify({
					jsonrpc: "2.0",
					id: 2,
					method: "tools/call",
					params: { name: "retry-workflow", arguments: { workflowId: "wf" } },
				}),
			}),
		);
		expect(res.status).toBe(404);
		expect(await res.text()).toMatch(/Session not found/);
		// alice's count is untouched by the attempt
		const again = await call(alice, "retry-workflow", { workflowId: "wf" });
		expect(attemptOf(again).number).toBe(2);
		await alice.close();
	});
});
