import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/guard/decision";
import { faultDecision } from "../../src/guard/decision";
import { renderReport } from "../../src/tools/result";

const decision = (over: Partial<Decision>): Decision =>
	({
		verdict: "ALLOW",
		decision: "GO",
		reason: "fine",
		request_id: "req-1",
		policy_version: "v1",
		risk_score: 15,
		high_risk: false,
		issues: [],
		questions: [],
		guardrails: [],
		source: "stage0",
		latency_ms: 3,
		...over,
	}) as Decision;

describe("renderReport", () => {
	it("shows the output of an allowed call with the ids", () => {
		const r = renderReport(
			"research-topic",
			"action",
			{ decision: decision({}), action: { status: "executed", output: { summary: "S" } }, notes: [] },
			(o) => String(o.summary),
		);
		expect(r.isError).toBeUndefined();
		expect(r.content[0].text).toMatch(/^✅ TOOL CALL ALLOWED: research-topic/);
		expect(r.content[0].text).toContain("Request ID: req-1");
		expect(r.content[0].text).toContain("Policy Version: v1");
		expect(r.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true, result: { summary: "S" } });
	});

	it("marks a blocked action as an error, with issues and no output", () => {
		const d = decision({
			verdict: "DENY",
			decision: "NO_GO",
			issues: [{ code: "SIDE_EFFECTS_NEED_GUARDRAILS", severity: "HIGH", message: "needs approval" }],
		});
		const r = renderReport("publish-content", "action", { decision: d, action: { status: "not_run" }, notes: [] });
		expect(r.isError).toBe(true);
		expect(r.content[0].text).toMatch(/^⛔ TOOL CALL BLOCKED/);
		expect(r.content[0].text).toContain("[HIGH] SIDE_EFFECTS_NEED_GUARDRAILS: needs approval");
		expect(r.structuredContent.executed).toBe(false);
		expect(r.structuredContent).not.toHaveProperty("result");
	});

	it("shows the questions of a DEFER", () => {
		const d = decision({ verdict: "DEFER", decision: "DEFER", questions: ["What outcome?"] });
		const r = renderReport("retry-workflow", "action", { decision: d, action: { status: "not_run" }, notes: [] });
		expect(r.content[0].text).toMatch(/^⏸️ TOOL CALL DEFERRED/);
		expect(r.content[0].text).toContain("? What outcome?");
	});

	it("answers a query's DENY as a result, and a query's fault as an error", () => {
		const deny = renderReport("check-authorization", "query", {
			decision: decision({ verdict: "DENY", decision: "NO_GO" }),
			action: { status: "not_run" },
			notes: [],
		});
		expect(deny.isError).toBeUndefined();
		const fault = renderReport("check-authorization", "query", {
			decision: faultDecision("Stage0 is unavailable (HTTP 503).", "r", 1),
			action: { status: "not_run" },
			notes: [],
		});
		expect(fault.isError).toBe(true);
		expect(fault.content[0].text).toContain("Stage0 is unavailable (HTTP 503).");
	});
});
