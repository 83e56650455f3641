/** The approval life cycle: requested over MCP, decided by another admin, used once. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
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

const post = { content: "Release notes for v2.4", channel: "blog" };

async function requestPublish(client: Client, args = post) {
	const r = await call(client, "publish-content", args);
	expect(r.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
	return r.structuredContent!.approval as { id: string; status: string; url: string; expires_at: string };
}

describe("approval life cycle", () => {
	it("a refused publish records a pending approval and says where to approve it", async () => {
		const r = await call(alice, "publish-content", post);
		const approval = heldApproval(r);
		// No PUBLIC_URL in this project: a relative link, never one built from the request's Host.
		expect(approval).toMatchObject({ status: "pending", url: `/approvals#${approval.id}` });
		expect(Date.parse(approval.expires_at) - Date.now()).toBeGreaterThan(800_000);
		expect(r.content[0].text).toContain(`approve it at /approvals#${approval.id}`);

		const { status, body } = await api("carol", "GET", `/api/approvals/${approval.id}`);
		expect(status).toBe(200);
		expect(body.approval).toMatchObject({
			status: "pending",
			principal: "alice",
			role: "developer",
			tool: "publish-content",
			arguments: post,
			verdict: "DENY",
			kind: "authority",
			request_id: r.structuredContent!.request_id,
		});
		expect(body.approval.arguments_sha256).toMatch(/^[0-9a-f]{64}$/);
	});

	it("lists pending requests for admins, and only their own for others", async () => {
		const id = (await requestPublish(alice)).id;
		const admin = await api("carol", "GET", "/api/approvals?status=pending");
		expect(admin.body.approvals.map((a: { id: string }) => a.id)).toContain(id);
		const own = await api("alice", "GET", "/api/approvals?status=pending");
		expect(own.body.approvals.every((a: { principal: string }) => a.principal === "alice")).toBe(true);
		const viewer = await api("victor", "GET", "/api/approvals?status=pending");
		expect(viewer.body.approvals).toEqual([]);
		expect((await api("victor", "GET", `/api/approvals/${id}`)).status).toBe(404);
		expect((await api("alice", "GET", "/api/approvals?status=maybe")).status).toBe(400);
	});

	it("is granted once: approve, use, and a second use fails", async () => {
		const { id } = await requestPublish(alice);
		const early = await call(alice, "publish-content", { ...post, approvalId: id });
		expect(early.structuredContent!.reason).toMatch(/not accepted: it is pending/);

		const approved = await api("bob", "POST", `/api/approvals/${id}/approve`, { note: "checked the text" });
		expect(approved.status).toBe(200);
		expect(approved.body.approval).toMatchObject({ status: "approved", decided_by: "bob", note: "checked the text" });
		expect(approved.body.approval.history.map((h: { action: string; actor: string }) => `${h.action}:${h.actor}`)).toEqual([
			"requested:alice",
			"approved:bob",
		]);

		const used = await call(alice, "publish-content", { ...post, approvalId: id });
		expect(used.isError).toBeFalsy();
		expect(used.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true, guardrails: ["human_approval"] });
		expect(used.structuredContent!.result).toMatchObject({ published: true, channel: "blog" });
		expect(used.structuredContent!.notes[0]).toMatch(new RegExp(`Approval ${id} by bob used`));

		const again = await call(alice, "publish-content", { ...post, approvalId: id });
		expect(again.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		expect(again.structuredContent!.reason).toMatch(/not accepted: it is used/);
		expect((await api("bob", "GET", `/api/approvals/${id}`)).body.approval.status).toBe("used");
	});

	it("refuses other arguments, and another principal", async () => {
		const { id } = await requestPublish(alice);
		await api("bob", "POST", `/api/approvals/${id}/approve`, {});
		const other = await call(alice, "publish-content", { content: "Something else entirely", channel: "blog", approvalId: id });
		expect(other.structuredContent!.reason).toMatch(/other arguments/);
		const otherTool = await call(alice, "deploy-changes", { serviceName: "x", environment: "staging", changes: "y", approvalId: id });
		expect(otherTool.structuredContent!.reason).toMatch(/for the tool 'publish-content'/);
		const carol = await as("carol");
		const stolen = await call(carol, "publish-content", { ...post, approvalId: id });
		expect(stolen.structuredContent!.reason).toMatch(/requested by another principal/);
		await carol.close();
		// none of that used it up
		expect((await call(alice, "publish-content", { ...post, approvalId: id })).structuredContent!.verdict).toBe("ALLOW");
	});

	it("refuses self-approval, and approval by a non-admin", async () => {
		const own = await requestPublish(bob);
		const self = await api("bob", "POST", `/api/approvals/${own.id}/approve`, {});
		expect(self).toMatchObject({ status: 403, body: { error: "self_approval" } });
		const forAlice = await requestPublish(alice);
		const byDeveloper = await api("alice", "POST", `/api/approvals/${forAlice.id}/approve`, {});
		expect(byDeveloper.status).toBe(403);
		const byViewer = await api("victor", "POST", `/api/approvals/${forAlice.id}/approve`, {});
		expect(byViewer.status).toBe(404);
		expect((await api("carol", "GET", `/api/approvals/${forAlice.id}`)).body.approval.status).toBe("pending");
	});

	it("a rejected request cannot be used or approved later", async () => {
		const { id } = await requestPublish(alice);
		const rejected = await api("carol", "POST", `/api/approvals/${id}/reject`, { note: "not before the embargo" });
		expect(rejected.body.approval).toMatchObject({ status: "rejected", decided_by: "carol", note: "not before the embargo" });
		expect((await call(alice, "publish-content", { ...post, approvalId: id })).structuredContent!.reason).toMatch(/it is rejected/);
		expect((await api("bob", "POST", `/api/approvals/${id}/approve`, {})).status).toBe(409);
	});

	it("an expired approval is refused", async () => {
		const { id } = await requestPublish(alice);
		await api("bob", "POST", `/api/approvals/${id}/approve`, {});
		const stub = env.APPROVALS.get(env.APPROVALS.idFromName("global"));
		await runInDurableObject(stub, (_instance, state) => {
			state.storage.sql.exec("UPDATE approvals SET expires_at = ? WHERE id = ?", Date.now() - 1, id);
		});
		const r = await call(alice, "publish-content", { ...post, approvalId: id });
		expect(r.structuredContent!.reason).toMatch(/it is expired/);
		expect((await api("bob", "GET", `/api/approvals/${id}`)).body.approval.status).toBe("expired");
	});

	it("rejects bad bodies and unknown ids with clear errors", async () => {
		const { id } = await requestPublish(alice);
		expect((await api("bob", "POST", `/api/approvals/${id}/approve`, { note: "x".repeat(1001) })).body.message).toMatch(/1000/);
		expect((await api("bob", "POST", `/api/approvals/${id}/approve`, { approve: true })).status).toBe(400);
		expect((await api("bob", "POST", "/api/approvals/not-an-id/approve", {})).status).toBe(404);
		expect((await api("bob", "GET", `/api/approvals/${id}`)).body.approval.status).toBe("pending");
	});

	it("a production deploy goes through after another admin approves it", async () => {
		const args = { serviceName: "billing", environment: "production", changes: "v2" };
		const held = await call(bob, "deploy-changes", args);
		const { id } = heldApproval(held);
		expect(held.structuredContent!.approval).toBeTruthy();
		await api("carol", "POST", `/api/approvals/${id}/approve`, {});
		const done = await call(bob, "deploy-changes", { ...args, approvalId: id });
		expect(done.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		expect(done.structuredContent!.result).toMatchObject({ environment: "production", status: "deployed" });
	});

	it("one approval grants one more attempt past the loop threshold", async () => {
		const verdicts: string[] = [];
		let approvalId = "";
		for (let i = 0; i < 6; i++) {
			const r = await call(alice, "retry-workflow", { workflowId: "etl" });
			verdicts.push(r.structuredContent!.verdict);
			if (r.structuredContent!.approval) approvalId = heldApproval(r).id;
		}
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DEFER"]);
		expect((await api("bob", "GET", `/api/approvals/${approvalId}`)).body.approval.kind).toBe("loop");
		await api("bob", "POST", `/api/approvals/${approvalId}/approve`, {});
		const extra = await call(alice, "retry-workflow", { workflowId: "etl", approvalId });
		expect(extra.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		const after = await call(alice, "retry-workflow", { workflowId: "etl" });
		expect(after.structuredContent!.verdict).toBe("DEFER");
	});

	it("prunes approvals long past their expiry when its alarm runs", async () => {
		const { id: old } = await requestPublish(alice);
		const { id: recent } = await requestPublish(alice);
		const stub = env.APPROVALS.get(env.APPROVALS.idFromName("global"));
		await runInDurableObject(stub, (_i, state) => {
			state.storage.sql.exec("UPDATE approvals SET expires_at = ? WHERE id = ?", Date.now() - 31 * 86_400_000, old);
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect((await api("bob", "GET", `/api/approvals/${old}`)).status).toBe(404);
		expect((await api("bob", "GET", `/api/approvals/${recent}`)).body.approval.status).toBe("pending");
	});
});
