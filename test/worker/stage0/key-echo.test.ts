/** A Stage0 answer that echoes the key inside a 200: the key reaches no caller, record or log. */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { mockStage0, loopbackClient, STAGE0_KEY } from "../support/stage0";
import { call, heldApproval } from "../support/mcp";
import { approvalStore, auditLogOf } from "../../../src/state/bindings";

const loopback = loopbackClient();

describe("a key echoed by Stage0", () => {
	it("is redacted in the result, the log line, the audit trail and the approval record", async () => {
		mockStage0(() =>
			Response.json({
				verdict: "DENY",
				decision: "NO_GO",
				reason: `denied for key ${STAGE0_KEY.toUpperCase()}`,
				request_id: `echo-${STAGE0_KEY}`,
				policy_version: `policy ${STAGE0_KEY}`,
				issues: [{ code: "X", severity: "HIGH", message: `the key is ${STAGE0_KEY}` }],
				defer_questions: [`is ${STAGE0_KEY} yours?`],
			}),
		);
		const logged: string[] = [];
		const log = console.log;
		vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
			logged.push(args.map(String).join(" "));
			log(...args);
		});
		const r = await call(loopback.client, "publish-content", { content: "launch", channel: "blog" });
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", reason: "denied for key [redacted]", request_id: "echo-[redacted]" });
		const seen = (text: string) => text.toLowerCase().includes(STAGE0_KEY.toLowerCase());
		expect(seen(JSON.stringify(r))).toBe(false);
		const approval = await approvalStore(env).get(heldApproval(r).id);
		expect(approval?.reason).toBe("denied for key [redacted]");
		expect(seen(JSON.stringify(approval))).toBe(false);
		const records = () => auditLogOf(env, "local").query({ principal: "local", limit: 10 });
		await expect.poll(async () => (await records()).length).toBeGreaterThan(0);
		expect((await records()).some((x) => x.request_id === "echo-[redacted]")).toBe(true);
		expect(seen(JSON.stringify(await records()))).toBe(false);
		expect(logged.some((l) => l.includes("guard.decision"))).toBe(true);
		expect(logged.some(seen)).toBe(false);
	});
});
