/**
 * Loopback-only mode started as `npm run dev` starts it: the approver link's
 * secret signs the person at the terminal in as `operator` (admin) on the
 * approvals API, and nowhere else, so the agent cannot approve its own calls.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TEST_OPERATOR_SECRET } from "../../support/test-tokens";
import type { ApiAnswer } from "../../support/results";
import { call, connect, heldApproval } from "../support/mcp";

async function api(method: "GET" | "POST", path: string, token?: string, body?: unknown) {
	const init: RequestInit = {
		method,
		headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
	};
	if (body !== undefined) init.body = JSON.stringify(body);
	const res = await exports.default.fetch(new Request(`http://127.0.0.1:8787${path}`, init));
	return { status: res.status, body: await res.json<ApiAnswer>() };
}

const post = { content: "Quick-start launch post", channel: "blog" };

describe("the approver link's secret", () => {
	it("signs in as operator with the admin role on the approvals API", async () => {
		const { status, body } = await api("GET", "/api/approvals", TEST_OPERATOR_SECRET);
		expect(status).toBe(200);
		expect(body.viewer).toEqual({ principal: "operator", role: "admin" });
	});

	it("an old or wrong link gets 401 with a reason, not a silent sign-in as local", async () => {
		const { status, body } = await api("GET", "/api/approvals", "op_an_old_link_of_an_earlier_start_000000");
		expect(status).toBe(401);
		expect(body.message).toContain("approver link");
		expect(JSON.stringify(body)).not.toContain(TEST_OPERATOR_SECRET);
	});

	it("is not accepted from a client address that is not loopback", async () => {
		const res = await exports.default.fetch(
			new Request("http://127.0.0.1:8787/api/approvals", {
				headers: { authorization: `Bearer ${TEST_OPERATOR_SECRET}`, "cf-connecting-ip": "203.0.113.7" },
			}),
		);
		expect(res.status).toBe(401);
	});

	it("the full quick-start loop: local's publish is held, the operator approves it, local's retry runs once", async () => {
		const agent = await connect();
		const held = await call(agent, "publish-content", post);
		expect(held.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		const approval = heldApproval(held);
		expect(approval.approver).toBe("operator");
		// on the approver link's origin (127.0.0.1), so the signed-in page can open it
		expect(approval.url).toBe(`http://127.0.0.1/approvals#${approval.id}`);
		expect(held.content[0].text).toContain("the operator can approve it with the approver link printed by npm run dev");
		expect(held.content[0].text).not.toContain("a person other than you");

		// The requester cannot approve its own call; the operator can.
		expect((await api("POST", `/api/approvals/${approval.id}/approve`, undefined, {})).status).toBe(403);
		const granted = await api("POST", `/api/approvals/${approval.id}/approve`, TEST_OPERATOR_SECRET, { note: "ok" });
		expect(granted.status).toBe(200);
		expect(granted.body.approval).toMatchObject({ status: "approved", decided_by: "operator", principal: "local" });

		const done = await call(agent, "publish-content", { ...post, approvalId: approval.id });
		expect(done.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		const again = await call(agent, "publish-content", { ...post, approvalId: approval.id });
		expect(again.structuredContent).toMatchObject({ executed: false });
		await agent.close();
	});

	it("records what the authority said (risk, issues, questions) for the person deciding", async () => {
		const agent = await connect();
		const held = await call(agent, "publish-content", { content: "Risky post", channel: "twitter" });
		const { body } = await api("GET", `/api/approvals/${heldApproval(held).id}`, TEST_OPERATOR_SECRET);
		expect(body.approval.risk_score).toBe(held.structuredContent!.risk_score);
		expect(body.approval.issues).toEqual(held.structuredContent!.issues);
		expect(body.approval.questions).toEqual(held.structuredContent!.questions);
		expect(body.approval.issues.length).toBeGreaterThan(0);
		await agent.close();
	});

	it("means nothing on /mcp: an agent presenting it is still local, and cannot approve its own request", async () => {
		// The agent got hold of the secret and sends it on its MCP connection.
		const agent = await connect("streamable", TEST_OPERATOR_SECRET);
		const held = await call(agent, "publish-content", { content: "Self-approved?", channel: "blog" });
		const { id } = heldApproval(held);
		const record = await api("GET", `/api/approvals/${id}`, TEST_OPERATOR_SECRET);
		expect(record.body.approval.principal).toBe("local");
		await agent.close();
	});

	it("means nothing on /api/audit: read there as local, not as an admin", async () => {
		const res = await exports.default.fetch(
			new Request("http://127.0.0.1:8787/api/audit?principal=operator", { headers: { authorization: `Bearer ${TEST_OPERATOR_SECRET}` } }),
		);
		// local (a developer) may read only its own records; an admin could read another principal's.
		expect(res.status).toBe(403);
		expect((await res.json<{ message: string }>()).message).toContain("only your own");
	});
});
