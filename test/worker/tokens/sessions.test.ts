/**
 * A session belongs to the credential that opened it, and every call runs with
 * the role of the credential presented on that call (replays of issue 8, items 1, 2, 9 and 10).
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { TOKENS, tokenTableJson } from "../../support/test-tokens";
import { api } from "./support";
import { call, connect, workerWith } from "../support/mcp";

const MCP_HEADERS = {
	accept: "application/json, text/event-stream",
	"content-type": "application/json",
	"mcp-protocol-version": "2025-06-18",
};
const publish = {
	jsonrpc: "2.0",
	id: 7,
	method: "tools/call",
	params: { name: "publish-content", arguments: { content: "hello", channel: "blog" } },
};

function bearer(who: keyof typeof TOKENS) {
	return { authorization: `Bearer ${TOKENS[who].token}` };
}

async function auditOf(who: keyof typeof TOKENS) {
	const { body } = await api(who, "GET", `/api/audit?principal=${TOKENS[who].principal}&limit=500`);
	return body.records as { session_id: string; tool: string; role: string; source: string; reason: string }[];
}

/** Opens a legacy SSE session and returns its id (from the endpoint event) and the open stream. */
async function openSse(who: keyof typeof TOKENS) {
	const res = await exports.default.fetch(
		new Request("http://localhost/sse", { headers: { accept: "text/event-stream", ...bearer(who) } }),
	);
	expect(res.status).toBe(200);
	const reader = res.body!.getReader();
	let text = "";
	while (!/sessionId=([^\s&]+)/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
	return { sessionId: /sessionId=([^\s&]+)/.exec(text)![1], close: () => reader.cancel() };
}

describe("a session belongs to the credential that opened it", () => {
	it("refuses alice's viewer token in the session her developer token opened (/mcp)", async () => {
		const developer = await connect("streamable", TOKENS.alice.token);
		const sessionId = (developer.transport as { sessionId?: string }).sessionId!;
		const res = await exports.default.fetch(
			new Request("http://localhost/mcp", {
				method: "POST",
				headers: { ...MCP_HEADERS, "mcp-session-id": sessionId, ...bearer("aliceViewer") },
				body: JSON.stringify(publish),
			}),
		);
		expect(res.status).toBe(404);
		expect(res.headers.get("content-type")).toContain("application/json");
		expect(await res.json()).toMatchObject({ error: { code: -32001, message: expect.stringMatching(/Session not found/) } });
		const records = await auditOf("alice");
		expect(records.filter((r) => r.tool === "publish-content" && r.session_id === sessionId)).toEqual([]);
		await developer.close();
	});

	it("refuses alice's viewer token on the SSE session her developer token opened (/sse/message)", async () => {
		const sse = await openSse("alice");
		const res = await exports.default.fetch(
			new Request(`http://localhost/sse/message?sessionId=${sse.sessionId}`, {
				method: "POST",
				headers: { "content-type": "application/json", ...bearer("aliceViewer") },
				body: JSON.stringify(publish),
			}),
		);
		expect(res.status).toBe(404);
		expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/Session not found/) } });
		await sse.close();
		const records = await auditOf("alice");
		expect(records.filter((r) => r.session_id === sse.sessionId && r.tool === "publish-content")).toEqual([]);
	});

	it("refuses a session id that was never opened on /sse/message, and runs nothing in it", async () => {
		const init = {
			jsonrpc: "2.0",
			id: 1,
			method: "initialize",
			params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "x", version: "1" } },
		};
		for (const body of [init, publish]) {
			const res = await exports.default.fetch(
				new Request("http://localhost/sse/message?sessionId=junk-1", {
					method: "POST",
					headers: { "content-type": "application/json", ...bearer("bob") },
					body: JSON.stringify(body),
				}),
			);
			expect(res.status).toBe(404);
			expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/Session not found/) } });
		}
		expect((await auditOf("bob")).filter((r) => r.session_id === "junk-1")).toEqual([]);
	});

	it("answers DELETE of someone else's session with a JSON 404, and the session lives on", async () => {
		const alice = await connect("streamable", TOKENS.alice.token);
		const sessionId = (alice.transport as { sessionId?: string }).sessionId!;
		const res = await exports.default.fetch(
			new Request("http://localhost/mcp", { method: "DELETE", headers: { ...MCP_HEADERS, "mcp-session-id": sessionId, ...bearer("bob") } }),
		);
		expect(res.status).toBe(404);
		expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/Session not found/) } });
		expect((await call(alice, "research-topic", { topic: "still here" })).structuredContent!.verdict).toBe("ALLOW");
		await alice.close();
	});

	it("does not show the caller the ids of its sessions through the audit-log tool", async () => {
		const first = await connect("streamable", TOKENS.alice.token);
		await call(first, "research-topic", { topic: "ids" });
		const second = await connect("streamable", TOKENS.aliceViewer.token);
		const log = await call(second, "audit-log", { limit: 50 });
		expect(log.structuredContent?.records?.length).toBeGreaterThan(0);
		const firstId = (first.transport as { sessionId?: string }).sessionId!;
		expect(JSON.stringify(log)).not.toContain(firstId);
		for (const record of log.structuredContent?.records ?? []) expect(record).not.toHaveProperty("session_id");
		await first.close();
		await second.close();
	});
});

describe("the role is the one of the credential presented on each call", () => {
	it("a token demoted from admin to viewer lists and runs only viewer tools in its open session", async () => {
		const before = workerWith({ MCP_AUTH_TOKENS: tokenTableJson() });
		const after = workerWith({ MCP_AUTH_TOKENS: tokenTableJson({ carol: "viewer" }) });
		// One session, two configurations: the session is opened while carol is an admin.
		let config = before;
		const client = await connect("streamable", TOKENS.carol.token, (request) => config(request));
		expect((await client.listTools()).tools.map((t) => t.name)).toContain("publish-content");

		config = after; // the administrator demotes carol's token
		const names = (await client.listTools()).tools.map((t) => t.name).sort();
		expect(names).toEqual(["audit-log", "check-authorization", "research-topic"]);
		const refused = await call(client, "publish-content", { content: "x", channel: "blog" });
		expect(refused.isError).toBe(true);
		expect(refused.content[0].text).toMatch(/not found/);
		const asked = await call(client, "check-authorization", {
			goal: "Summarise the quarterly report for the team",
			sideEffects: ["publish"],
			successCriteria: ["a summary exists"],
		});
		expect(asked.structuredContent).toMatchObject({ verdict: "DENY", source: "local-rule" });
		await vi.waitFor(
			async () => expect((await auditOf("carol")).find((r) => r.tool === "check-authorization")).toMatchObject({ role: "viewer" }),
			{
				timeout: 3000,
			},
		);
		await client.close();
	});

	it("tells Stage0 and the audit trail the role of this call's credential, not the session's first one", async () => {
		const before = workerWith({ MCP_AUTH_TOKENS: tokenTableJson() });
		const after = workerWith({ MCP_AUTH_TOKENS: tokenTableJson({ alice: "admin" }) });
		let config = before;
		const client = await connect("streamable", TOKENS.alice.token, (request) => config(request));
		await call(client, "research-topic", { topic: "first as developer" });
		config = after;
		await call(client, "research-topic", { topic: "then as admin" });
		await vi.waitFor(
			async () => {
				const roles = (await auditOf("alice")).filter((r) => r.tool === "research-topic").map((r) => r.role);
				expect(roles.slice(0, 2)).toEqual(["admin", "developer"]); // newest first
			},
			{ timeout: 3000 },
		);
		await client.close();
	});
});
