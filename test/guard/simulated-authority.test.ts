import { describe, expect, it } from "vitest";
import type { CheckRequest } from "../../src/guard/decision";
import { isVagueGoal, SIMULATED_POLICY_VERSION, simulateDecision } from "../../src/guard/simulated-authority";

const request = (over: Partial<CheckRequest> = {}): CheckRequest => ({
	goal: "Research the topic of edge computing and summarize it",
	success_criteria: ["A summary is returned"],
	constraints: [],
	tools: ["research-topic"],
	side_effects: [],
	context: {},
	pro: false,
	...over,
});

describe("simulated authority (the seed's demo expectations)", () => {
	it("allows read-only research with success criteria", () => {
		const d = simulateDecision(request(), "id-1");
		expect(d).toMatchObject({
			verdict: "ALLOW",
			decision: "GO",
			risk_score: 15,
			high_risk: false,
			guardrails: ["read_only"],
			request_id: "id-1",
			policy_version: SIMULATED_POLICY_VERSION,
			source: "simulated",
		});
		expect(d.reason).toBe("Informational operation with no high-risk side effects");
	});

	it.each(["publish", "deploy"])("denies the %s side effect as needing guardrails", (effect) => {
		const d = simulateDecision(request({ side_effects: [effect] }), "id");
		expect(d.verdict).toBe("DENY");
		expect(d.decision).toBe("NO_GO");
		expect(d.high_risk).toBe(true);
		expect(d.risk_score).toBeGreaterThanOrEqual(60);
		expect(d.issues).toEqual([expect.objectContaining({ code: "SIDE_EFFECTS_NEED_GUARDRAILS", severity: "HIGH" })]);
		expect(d.reason).toContain(`'${effect}'`);
	});

	it("treats an unknown side effect as needing guardrails too (fail closed)", () => {
		expect(simulateDecision(request({ side_effects: ["external notification"] }), "id").verdict).toBe("DENY");
	});

	it("defers a loop at retry count 5 with defer questions, allows it below", () => {
		const at5 = simulateDecision(request({ side_effects: ["loop"], context: { retry_count: 5 } }), "id");
		expect(at5.verdict).toBe("DEFER");
		expect(at5.issues[0].code).toBe("LOOP_THRESHOLD_EXCEEDED");
		expect(at5.questions.length).toBeGreaterThan(0);
		expect(simulateDecision(request({ side_effects: ["loop"], context: { retry_count: 4 } }), "id").verdict).toBe("ALLOW");
	});

	it.each(["help me", "think", "幫我寫", "想一下這個", "short", "Please help me with the thing"])(
		"defers the vague goal %j with clarifying questions",
		(goal) => {
			const d = simulateDecision(request({ goal }), "id");
			expect(d.verdict).toBe("DEFER");
			expect(d.issues[0].code).toBe("UNCLEAR_VALUE_SIGNAL");
			expect(d.questions).toContain("What is the specific outcome you want to achieve?");
		},
	);

	it("does not take words that merely contain 'think' as vague", () => {
		expect(isVagueGoal("Summarize rethinking of cache invalidation")).toBe(false);
	});

	it("denies when success criteria are missing or blank", () => {
		for (const criteria of [[], ["  "]]) {
			const d = simulateDecision(request({ success_criteria: criteria }), "id");
			expect(d.verdict).toBe("DENY");
			expect(d.issues[0].code).toBe("MISSING_SUCCESS_CRITERIA");
		}
	});

	it("defers a vague request without success criteria with the seed's reason, risk and two questions", () => {
		for (const goal of ["help me think", "help me", "幫我想一下"]) {
			const d = simulateDecision(request({ goal, success_criteria: [] }), "id");
			expect(d).toMatchObject({
				verdict: "DEFER",
				decision: "DEFER",
				reason: "UNCLEAR_VALUE_SIGNAL: Task appears under-specified for reliable value delivery.",
				risk_score: 35,
				high_risk: false,
			});
			expect(d.issues.map((i) => i.code)).toEqual(["UNCLEAR_VALUE_SIGNAL"]);
			expect(d.questions).toEqual([
				"What is the specific outcome you want to achieve?",
				"What constraints or requirements should be considered?",
			]);
		}
	});

	it("a vague goal takes precedence over missing criteria; a clear goal without criteria is still denied", () => {
		expect(simulateDecision(request({ goal: "help me think", success_criteria: [] }), "id").issues[0].code).toBe("UNCLEAR_VALUE_SIGNAL");
		expect(simulateDecision(request({ goal: "help me think", side_effects: ["loop"], success_criteria: [] }), "id").verdict).toBe("DEFER");
		const clear = simulateDecision(request({ goal: "Summarize the weekly incident report", success_criteria: [] }), "id");
		expect(clear).toMatchObject({ verdict: "DENY", decision: "NO_GO" });
		expect(clear.issues[0].code).toBe("MISSING_SUCCESS_CRITERIA");
	});

	it("puts DENY before DEFER before ALLOW", () => {
		// vague + publish + missing criteria: a side effect needing guardrails keeps the DENY
		expect(simulateDecision(request({ goal: "help me", side_effects: ["publish"], success_criteria: [] }), "id").issues[0].code).toBe(
			"MISSING_SUCCESS_CRITERIA",
		);
		// vague + publish: the DENY wins over the DEFER
		expect(simulateDecision(request({ goal: "help me", side_effects: ["publish"] }), "id").verdict).toBe("DENY");
		// vague + loop over threshold: still a DEFER
		expect(simulateDecision(request({ goal: "help me", side_effects: ["loop"], context: { retry_count: 9 } }), "id").verdict).toBe("DEFER");
	});

	it("is deterministic apart from the request id", () => {
		const a = simulateDecision(request({ side_effects: ["publish"] }), "a");
		const b = simulateDecision(request({ side_effects: ["publish"] }), "b");
		expect({ ...a, request_id: "" }).toEqual({ ...b, request_id: "" });
	});
});
