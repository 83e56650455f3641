/** Bearer tokens: who is calling is decided before any session is touched. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TOKENS } from "../../support/test-tokens";
import { call, connect } from "../support/mcp";

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
		["no Authorization header", {}, /Missing Authorization/],
		["an unknown token", { authorization: "Bearer sg_not_a_real_token_at_all_000000" }, /Unknown bearer token/],
		["a malformed header", { authorization: "Basic dXNlcjpwYXNz" }, /Malformed/],
		["a token with a space", { authorization: `Bearer ${TOKENS.alice.token} x` }, /Malformed/],
	])("refuses %s with 401 and WWW-Authenticate, even from loopback", async (_n, headers, message) => {
		for (const path of ["/mcp", "/sse", "/api/approvals"]) {
			const res = await post(path, headers);
			expect(res.status).toBe(401);
			expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
			const body = await res.json<{ message: string }>();
			expect(body.message).toMatch(message);
			expect(res.headers.get("mcp-session-id")).toBeNull();
		}
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
		for (const t of Object.values(TOKENS)) expect(text).not.toContain(t.token);
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
				body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "retry-workflow", arguments: { workflowId: "wf" } } }),
			}),
		);
		expect(res.status).toBe(404);
		expect(await res.text()).toMatch(/Session not found/);
		// alice's count is untouched by the attempt
		const again = await call(alice, "retry-workflow", { workflowId: "wf" });
		expect(again.structuredContent!.attempt.number).toBe(2);
		await alice.close();
	});
});
