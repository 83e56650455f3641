/**
 * The approvals list cannot be buried or blown up: pending requests are capped
 * per principal, the list is paged, and list items carry truncated arguments
 * (the full, redacted arguments only on the single-approval view).
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { argumentsHash } from "../../../src/guard/approvals";
import { call, heldApproval } from "../support/mcp";
import { api, as } from "./support";

let alice: Client; // developer
let bob: Client; // admin
beforeAll(async () => {
	[alice, bob] = await Promise.all([as("alice"), as("bob")]);
});
afterAll(async () => {
	await Promise.all([alice.close(), bob.close()]);
});
// Each test makes many calls: start every test with a fresh rate-limit minute.
beforeEach(async () => {
	for (const principal of ["alice", "bob"]) {
		await runInDurableObject(env.BUDGETS.get(env.BUDGETS.idFromName(principal)), (_i, state) => {
			state.storage.sql.exec("DELETE FROM calls");
		});
	}
});

type Listed = { id: string; principal: string; status: string; arguments: Record<string, unknown>; arguments_truncated: boolean };

/** Refused publish calls, a few at a time; returns the results in order. */
async function refusedPublishes(client: Client, n: number, content = (i: number) => `post ${i}`) {
	const results = [];
	for (let i = 0; i < n; i += 10) {
		const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) =>
			call(client, "publish-content", { content: content(i + j), channel: "blog" }),
		);
		results.push(...(await Promise.all(batch)));
	}
	for (const r of results) expect(r.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
	return results;
}

/** Every page of a listing, following next_cursor. */
async function allPages(query: string) {
	const items: Listed[] = [];
	let cursor: string | null = null;
	let pages = 0;
	do {
		const page = await api("carol", "GET", `/api/approvals?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
		expect(page.status).toBe(200);
		items.push(...page.body.approvals);
		cursor = page.body.next_cursor;
		pages++;
	} while (cursor && pages < 50);
	return { items, pages };
}

describe("approvals list", () => {
	it(
		"105 refused calls by one developer do not push another person's pending request off the first page",
		{ timeout: 120_000 },
		async () => {
			const [bobs] = await refusedPublishes(bob, 1, () => "bob's release notes");
			const bobsId = heldApproval(bobs).id;
			await refusedPublishes(alice, 105);

			const first = await api("carol", "GET", "/api/approvals?status=pending");
			expect(first.status).toBe(200);
			expect(first.body.approvals.map((a: Listed) => a.id)).toContain(bobsId);
			// alice holds at most MAX_PENDING_APPROVALS_PER_PRINCIPAL (20) pending requests
			expect(first.body.approvals.filter((a: Listed) => a.principal === "alice")).toHaveLength(20);
			expect(first.body.next_cursor).toBeNull();

			// every request is still there, once, newest first, over the pages
			const { items, pages } = await allPages("limit=40");
			expect(pages).toBe(3);
			expect(new Set(items.map((a) => a.id)).size).toBe(106);
			expect(items.at(-1)!.id).toBe(bobsId);
		},
	);

	it("opening one more pending request than the cap expires the principal's oldest, and says so", { timeout: 60_000 }, async () => {
		const results = await refusedPublishes(alice, 21, (i) => `capped ${i}`);
		// the last call pushed out the oldest pending request of alice
		const last = results.at(-1)!;
		expect(last.structuredContent!.notes.join("\n")).toMatch(
			/^Your oldest pending approval request [0-9a-f-]{36} was expired: at most 20 may be pending at once \(MAX_PENDING_APPROVALS_PER_PRINCIPAL\)\.$/m,
		);
		const expiredId = /request ([0-9a-f-]{36})/.exec(last.structuredContent!.notes.join("\n"))![1];
		const expired = await api("carol", "GET", `/api/approvals/${expiredId}`);
		expect(expired.body.approval.status).toBe("expired");
		expect(expired.body.approval.history.map((h: { action: string }) => h.action)).toEqual(["requested", "expired"]);
		const pending = await allPages("status=pending&limit=200");
		expect(pending.items.filter((a) => a.principal === "alice")).toHaveLength(20);
		// an expired request cannot be approved any more
		expect((await api("carol", "POST", `/api/approvals/${expiredId}/approve`, {})).status).toBe(409);
	});

	it("100 calls with 200 KB arguments keep the list small; the full arguments are on the single view", { timeout: 180_000 }, async () => {
		const big = (i: number) => `${i} ${"x".repeat(200 * 1024)}`;
		await refusedPublishes(alice, 100, big);
		const res = await api("carol", "GET", "/api/approvals");
		const size = JSON.stringify(res.body).length;
		expect(res.body.approvals).toHaveLength(50);
		expect(size).toBeLessThan(100_000); // 50 items of about 1 KB, not 50 x 200 KB
		const item = res.body.approvals[0] as Listed;
		expect(item.arguments_truncated).toBe(true);
		expect(item.arguments.content).toMatch(/^\d+ x{190,}…$/);
		expect((item.arguments.content as string).length).toBe(201);
		expect(item.arguments.channel).toBe("blog");
		const biggest = await api("carol", "GET", "/api/approvals?limit=200");
		expect(JSON.stringify(biggest.body).length).toBeLessThan(400_000);

		const full = await api("carol", "GET", `/api/approvals/${item.id}`);
		expect(full.body.approval.arguments_truncated).toBe(false);
		expect((full.body.approval.arguments.content as string).length).toBe(
			big(0).length + (item.arguments.content as string).indexOf(" ") - 1,
		);
	});

	it("checks limit and cursor", async () => {
		for (const query of ["limit=0", "limit=201", "limit=abc", "limit=1.5", "cursor=not-a-cursor", "cursor="]) {
			const res = await api("carol", "GET", `/api/approvals?${query}`);
			expect(res.status, query).toBe(400);
			expect(res.body.error).toMatch(/invalid_(limit|cursor)/);
		}
		await refusedPublishes(alice, 3);
		const page = await api("carol", "GET", "/api/approvals?limit=2");
		expect(page.body.approvals).toHaveLength(2);
		expect(typeof page.body.next_cursor).toBe("string");
		expect(page.body.viewer).toMatchObject({ principal: "carol", role: "admin" });
		// small pages, followed to the end, give exactly the one big page
		const whole = await api("carol", "GET", "/api/approvals?status=pending&limit=200");
		expect(whole.body.next_cursor).toBeNull();
		const paged = await allPages("status=pending&limit=7");
		expect(paged.items.map((a) => a.id)).toEqual(whole.body.approvals.map((a: Listed) => a.id));
		expect(paged.pages).toBe(Math.ceil(whole.body.approvals.length / 7));
	});
});

describe("approval records", () => {
	it("store the arguments redacted, and stay bound to the hash of the real arguments", async () => {
		const secret = `sk-${"live0123456789abcdefgh"}`;
		const args = { content: `Launch! The staging key is ${secret}`, channel: "blog" };
		const [r] = await refusedPublishes(alice, 1, () => args.content);
		const { id } = heldApproval(r);
		const { body } = await api("carol", "GET", `/api/approvals/${id}`);
		expect(JSON.stringify(body)).not.toContain(secret);
		expect(body.approval.arguments).toEqual({ content: "[redacted]", channel: "blog" });
		expect(body.approval.arguments_sha256).toBe(argumentsHash(args));
		const listed = await api("carol", "GET", "/api/approvals?status=pending");
		expect(JSON.stringify(listed.body)).not.toContain(secret);

		await api("bob", "POST", `/api/approvals/${id}/approve`, {});
		const used = await call(alice, "publish-content", { ...args, approvalId: id });
		expect(used.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
	});
});
