/** The audit trail as people read it: filters, paging, export, and who may read what. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { exports } from "cloudflare:workers";
import { TOKENS } from "../../support/test-tokens";
import { call } from "../support/mcp";
import { api, as } from "./support";

let alice: Client;
let carol: Client;
const aliceRequestIds: string[] = [];

beforeAll(async () => {
	[alice, carol] = await Promise.all([as("alice"), as("carol")]);
	for (let i = 0; i < 7; i++) {
		const r = await call(alice, "research-topic", { topic: `topic number ${i}` });
		aliceRequestIds.push(r.structuredContent!.request_id);
	}
	for (let i = 0; i < 3; i++) {
		const r = await call(alice, "publish-content", { content: `post ${i}`, channel: "blog" });
		aliceRequestIds.push(r.structuredContent!.request_id);
	}
	await call(carol, "research-topic", { topic: "carol's own topic" });
	await call(carol, "publish-content", { content: "carol's post", channel: "news" });
	// sessions ship their records a few milliseconds after each call
	await vi.waitFor(async () => expect((await api("bob", "GET", "/api/audit?limit=100")).body.records).toHaveLength(12), {
		timeout: 3000,
		interval: 20,
	});
});
afterAll(async () => {
	await Promise.all([alice.close(), carol.close()]);
});

describe("GET /api/audit", () => {
	it("gives an admin everyone's records, newest first, with the audit fields", async () => {
		const { status, body } = await api("bob", "GET", "/api/audit?limit=100");
		expect(status).toBe(200);
		expect(body.records).toHaveLength(12);
		const times = body.records.map((r: { at: string }) => Date.parse(r.at));
		expect([...times].sort((a, b) => b - a)).toEqual(times);
		expect(new Set(body.records.map((r: { principal: string }) => r.principal))).toEqual(new Set(["alice", "carol"]));
		expect(body.records[0]).toMatchObject({
			request_id: expect.any(String),
			policy_version: "simulated-v1.0.0",
			source: "simulated",
			role: "admin",
			session_id: expect.any(String),
			args_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
			arguments: null,
		});
	});

	it("filters by principal, tool and verdict", async () => {
		const denied = await api("bob", "GET", "/api/audit?principal=alice&verdict=DENY");
		expect(denied.body.records).toHaveLength(3);
		expect(denied.body.records.every((r) => r.tool === "publish-content" && r.outcome === "not_run")).toBe(true);
		const research = await api("bob", "GET", "/api/audit?tool=research-topic");
		expect(research.body.records).toHaveLength(8);
		expect(research.body.records.every((r) => r.outcome === "executed" && r.verdict === "ALLOW")).toBe(true);
	});

	it("filters by time", async () => {
		const all = (await api("bob", "GET", "/api/audit?limit=100")).body.records;
		const newest = all[0].at;
		expect((await api("bob", "GET", `/api/audit?since=${encodeURIComponent(newest)}`)).body.records.length).toBeGreaterThanOrEqual(1);
		expect((await api("bob", "GET", `/api/audit?until=${Date.parse(all[all.length - 1].at) - 1}`)).body.records).toHaveLength(0);
	});

	it("pages with a cursor, without gaps or repeats", async () => {
		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const res: { body: { records: { request_id: string }[]; next_cursor: string | null } } = await api(
				"bob",
				"GET",
				`/api/audit?limit=5${cursor ? `&cursor=${cursor}` : ""}`,
			);
			seen.push(...res.body.records.map((r) => r.request_id));
			cursor = res.body.next_cursor;
			pages++;
		} while (cursor && pages < 10);
		expect(pages).toBe(3);
		expect(seen).toHaveLength(12);
		expect(new Set(seen).size).toBe(12);
		expect((await api("bob", "GET", "/api/audit?cursor=garbage")).status).toBe(400);
	});

	it("exports every matching record as NDJSON", async () => {
		const res = await exports.default.fetch(
			new Request("http://localhost/api/audit?format=ndjson&principal=alice", { headers: { authorization: `Bearer ${TOKENS.bob.token}` } }),
		);
		expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
		const lines = new TextDecoder()
			.decode(await res.arrayBuffer())
			.trim()
			.split("\n")
			.map((l) => JSON.parse(l) as { request_id: string });
		expect(lines.map((r) => r.request_id).sort()).toEqual([...aliceRequestIds].sort());
	});

	it("lets a principal read its own records and no one else's", async () => {
		const own = await api("alice", "GET", "/api/audit?limit=100");
		expect(own.body.records).toHaveLength(10);
		expect(own.body.records.every((r) => r.principal === "alice")).toBe(true);
		expect((await api("alice", "GET", "/api/audit?principal=carol")).status).toBe(403);
		const carolsId = (await api("bob", "GET", "/api/audit?principal=carol&limit=1")).body.records[0].request_id;
		expect((await api("alice", "GET", `/api/audit/${carolsId}`)).status).toBe(404);
		expect((await api("victor", "GET", "/api/audit")).body.records).toEqual([]);
	});

	it("finds a decision by its request_id: who asked for what, under which policy, and whether it ran", async () => {
		const { status, body } = await api("bob", "GET", `/api/audit/${aliceRequestIds[7]}`);
		expect(status).toBe(200);
		expect(body.records).toEqual([
			expect.objectContaining({
				request_id: aliceRequestIds[7],
				principal: "alice",
				role: "developer",
				tool: "publish-content",
				verdict: "DENY",
				policy_version: "simulated-v1.0.0",
				outcome: "not_run",
			}),
		]);
		expect((await api("alice", "GET", `/api/audit/${aliceRequestIds[0]}`)).body.records[0].outcome).toBe("executed");
		expect((await api("bob", "GET", "/api/audit/no-such-id")).status).toBe(404);
	});

	it("rejects bad filters with clear errors", async () => {
		expect((await api("bob", "GET", "/api/audit?verdict=MAYBE")).body.message).toMatch(/ALLOW, DENY or DEFER/);
		expect((await api("bob", "GET", "/api/audit?limit=0")).status).toBe(400);
		expect((await api("bob", "GET", "/api/audit?since=yesterday")).status).toBe(400);
	});
});

describe("the audit-log tool", () => {
	it("shows a caller its own recent decisions only", async () => {
		const r = await alice.callTool({ name: "audit-log", arguments: { limit: 3 } });
		const records = (r.structuredContent as { records: { principal: string; request_id: string }[] }).records;
		expect(records).toHaveLength(3);
		expect(records.every((x) => x.principal === "alice")).toBe(true);
		// the trail records decisions, not reads of the trail
		const all = await api("alice", "GET", "/api/audit?limit=100");
		expect(all.body.records.some((x: { tool: string }) => x.tool === "audit-log")).toBe(false);
		const denied = await alice.callTool({ name: "audit-log", arguments: { verdict: "DENY" } });
		expect((denied.structuredContent as { records: unknown[] }).records).toHaveLength(3);
	});
});
