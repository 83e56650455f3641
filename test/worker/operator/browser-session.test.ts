/**
 * The quick start's approver link, exchanged for a browser session: the page
 * signs in as `operator` (admin) with the link's secret, after which the
 * browser holds only a session cookie; a restart of `npm run dev` (a new
 * secret) ends such sessions, and they never work from a non-loopback peer.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { operatorHashHex, TEST_OPERATOR_SECRET } from "../../support/test-tokens";
import { signIn, withSession } from "../support/browser";
import { call, connect, workerWith } from "../support/mcp";

const ORIGIN = "http://127.0.0.1:8787";

describe("the approver link's secret exchanged for a session", () => {
	it("signs in as operator (admin); the session approves local's held call with its CSRF token", async () => {
		const session = await signIn(TEST_OPERATOR_SECRET, { origin: ORIGIN });
		expect(session.body).toMatchObject({ principal: "operator", role: "admin" });
		expect(session.setCookie).not.toContain(TEST_OPERATOR_SECRET);
		const agent = await connect();
		const held = await call(agent, "publish-content", { content: "Quick-start post for the session test", channel: "blog" });
		const { id } = held.structuredContent!.approval as { id: string };
		const listed = await withSession(session, "GET", "/api/approvals", { base: ORIGIN });
		expect(listed.body.viewer).toEqual({
			principal: "operator",
			role: "admin",
		});
		expect((await withSession(session, "POST", `/api/approvals/${id}/approve`, { base: ORIGIN, csrf: null })).status).toBe(403);
		const approved = await withSession(session, "POST", `/api/approvals/${id}/approve`, { base: ORIGIN });
		expect(approved.body.approval).toMatchObject({ status: "approved", decided_by: "operator" });
		await agent.close();
	});

	it("ends when npm run dev starts again (a new approver link)", async () => {
		const session = await signIn(TEST_OPERATOR_SECRET, { origin: ORIGIN });
		const restarted = workerWith({ OPERATOR_TOKEN_SHA256: operatorHashHex("op_the_next_start_of_npm_run_dev_00000000") });
		const res = await withSession(session, "GET", "/api/approvals", { base: ORIGIN, via: restarted });
		expect(res.status).toBe(401);
		expect(res.body).toMatchObject({ error: "session_ended" });
	});

	it("is not honoured from a peer that is not loopback, nor on /mcp", async () => {
		const session = await signIn(TEST_OPERATOR_SECRET, { origin: ORIGIN });
		const remote = await exports.default.fetch(
			new Request(`${ORIGIN}/api/approvals`, { headers: { cookie: session.cookie, "cf-connecting-ip": "203.0.113.7" } }),
		);
		expect(remote.status).toBe(401);
		const mcp = await exports.default.fetch(
			new Request(`${ORIGIN}/mcp`, {
				method: "POST",
				headers: { cookie: session.cookie, "content-type": "application/json", accept: "application/json, text/event-stream" },
				body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "audit-log", arguments: {} } }),
			}),
		);
		// /mcp ignores the cookie: the caller is still `local` (a developer), whose session id is unknown here
		expect(mcp.status).not.toBe(200);
	});

	it("the page itself is only for a signed-in browser: local is sent to sign in", async () => {
		const res = await exports.default.fetch(new Request(`${ORIGIN}/approvals`, { redirect: "manual" }));
		expect(res.status).toBe(303);
		expect(res.headers.get("location")).toBe("/approvals/sign-in?return_to=%2Fapprovals");
	});

	it("a wrong secret signs in no one", async () => {
		await expect(signIn("op_an_old_link_of_an_earlier_start_000000", { origin: ORIGIN })).rejects.toThrow(/401.*approver link/);
	});
});
