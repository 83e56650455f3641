/** Remote mode: every guarded call asks Stage0 first, and any doubt blocks it. */
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CheckRequest } from "../../../src/guard/decision";
import type { Verdict } from "../../../src/guard/enums";
import { heldApproval, call, callTool } from "../support/mcp";
import { mockStage0, type SentCheck, stage0Answer, loopbackClient, STAGE0_KEY } from "../support/stage0";
import { approvalStore } from "../../../src/state/bindings";

let seen: SentCheck[] = [];

/** Stage0 answers with `answer()` (the one mock of the Worker tests); `seen` is what it was sent. */
function stage0(answer: (body: CheckRequest) => Response | Promise<Response>) {
	seen = mockStage0((body) => answer(body));
}

const verdict = (v: Verdict, extra: Record<string, unknown> = {}) => stage0Answer(v, { request_id: `stage0-req-${seen.length}`, ...extra });

const loopback = loopbackClient();
afterEach(() => {
	seen = [];
});

describe("remote mode", () => {
	it("says so on /", async () => {
		const body = await (await exports.default.fetch(new Request("http://localhost/"))).json<{ mode: string }>();
		expect(body.mode).toBe("stage0");
		expect(JSON.stringify(body)).not.toContain(STAGE0_KEY);
	});

	it("asks Stage0 with the key, a request id and the documented body, then runs on ALLOW", async () => {
		stage0(() => verdict("ALLOW"));
		const r = await call(loopback.client, "managed-deploy", {
			serviceName: "billing",
			environment: "staging",
			changes: "bump",
			actorRole: "admin",
			approvalStatus: "approved",
			resourceScope: "team-a",
		});
		expect(seen).toHaveLength(1);
		const { url, headers, body } = seen[0];
		expect(url).toBe("https://stage0.test/check");
		expect(headers.get("x-api-key")).toBe(STAGE0_KEY);
		expect(headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
		expect(body).toMatchObject({
			goal: expect.stringContaining("billing"),
			side_effects: ["deploy"],
			tools: ["managed-deploy"],
			pro: false,
			context: {
				// the truth, not the claims: loopback callers are 'local' developers
				actor_id: "local",
				actor_role: "developer",
				approval_status: "none",
				environment: "staging",
				resource_scope: "team-a",
				current_tool: "managed-deploy",
				run_id: expect.any(String),
			},
		});
		expect(body.success_criteria.length).toBeGreaterThan(0);
		expect(r.structuredContent).toMatchObject({
			verdict: "ALLOW",
			request_id: "stage0-req-1",
			policy_version: "acme-policy-2026.11",
			source: "stage0",
			executed: true,
		});
		expect(r.structuredContent.result).toMatchObject({ service: "billing", environment: "staging", status: "deployed" });
		expect(r.structuredContent.notes).toEqual([
			"claimed role 'admin' ignored: authenticated as 'developer'",
			"claimed approval status 'approved' ignored: only an approvalId granted by a person counts",
		]);
	});

	it("does not run on Stage0's DENY or DEFER, and passes its reason and questions on", async () => {
		stage0(() => verdict("DEFER", { defer_questions: ["Who signed off?"] }));
		const r = await call(loopback.client, "publish-content", { content: "launch!", channel: "blog" });
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DEFER", executed: false, questions: ["Who signed off?"] });
		expect(r.content[0].text).toContain("stage0 said DEFER");
	});

	const faults: [string, () => Response | Promise<Response>, RegExp][] = [
		["a 401", () => Response.json({ detail: "invalid key" }, { status: 401 }), /rejected the API key/],
		["a 402", () => Response.json({ detail: "pro only" }, { status: 402 }), /plan does not allow/],
		["a 429", () => Response.json({ retry_after_seconds: 30 }, { status: 429 }), /retry after 30 seconds/],
		["a 503", () => new Response("down", { status: 503 }), /unavailable \(HTTP 503\)/],
		["HTML instead of JSON", () => new Response("<h1>gateway</h1>", { status: 200 }), /not JSON/],
		["an unknown verdict", () => Response.json({ verdict: "PROBABLY", request_id: "x" }), /unknown verdict/],
		["no verdict", () => Response.json({ request_id: "x" }), /no verdict/],
		["a network error", () => Promise.reject(new TypeError("Network connection lost")), /could not be reached/],
		["no answer in time", () => new Promise<Response>(() => {}), /did not answer within 300 ms/],
	];
	it.each(faults)("fails closed on %s: the action does not run and the reason says why", async (_n, answer, reason) => {
		stage0(answer);
		const r = await call(loopback.client, "deploy-changes", { serviceName: "api", environment: "staging", changes: "drop table" });
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault", executed: false });
		expect(r.structuredContent).not.toHaveProperty("result");
		expect(r.content[0].text).toMatch(reason);
		expect(JSON.stringify(r)).not.toContain(STAGE0_KEY);
	});

	it("never forwards an oversized argument to Stage0", async () => {
		stage0(() => verdict("ALLOW"));
		const r = await callTool(loopback.client, "publish-content", { content: "x".repeat(300 * 1024), channel: "blog" });
		expect(r.isError).toBe(true);
		expect(seen).toHaveLength(0);
	});

	it("sends the server's retry count, not the agent's, and stops at MAX_RETRIES whatever Stage0 says", async () => {
		stage0(() => verdict("ALLOW"));
		const verdicts: string[] = [];
		for (let i = 0; i < 6; i++) {
			const r = await call(loopback.client, "retry-workflow", { workflowId: "billing-sync", retryCount: 0 });
			verdicts.push(r.structuredContent.verdict);
		}
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DEFER"]);
		expect(seen.map((s) => s.body.context.retry_count)).toEqual([0, 1, 2, 3, 4]);
		expect(seen[0].body.side_effects).toEqual(["loop"]);
	});
});

describe("remote mode with an approval", () => {
	it("sends the approval to Stage0, and Stage0 still has the last word", async () => {
		stage0(() => verdict("DENY"));
		const args = { content: "launch post", channel: "blog" };
		const first = await call(loopback.client, "publish-content", args);
		const { id } = heldApproval(first);
		// an admin decides on the approvals API; here straight on the store
		const store = approvalStore(env);
		const decided = await store.decide(id, { principal: "bob", role: "admin" }, "approve", "ok");
		expect(decided.ok).toBe(true);

		const second = await call(loopback.client, "publish-content", { ...args, approvalId: id });
		expect(seen).toHaveLength(2);
		expect(seen[1].body.context).toMatchObject({ approval_status: "approved", approved_by: "bob", approved_at: expect.any(String) });
		expect(seen[0].body.context.approval_status).toBe("none");
		expect(second.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		// and no new approval is offered for a call that already used one
		expect(second.structuredContent).not.toHaveProperty("approval");
	});

	it("offers no approval on a fault", async () => {
		stage0(() => new Response("down", { status: 503 }));
		const r = await call(loopback.client, "publish-content", { content: "x", channel: "blog" });
		expect(r.structuredContent).toMatchObject({ decision: "ERROR" });
		expect(r.structuredContent).not.toHaveProperty("approval");
	});
});
