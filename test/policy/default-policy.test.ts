/** The bundled default policy set keeps the role table it replaced (formerly src/guard/local-rules.ts). */
import { describe, expect, it } from "vitest";
import { describeCall, isListed, type PolicyAnswer } from "../../src/guard/local-policy";
import { loadPolicy } from "../../src/policy/node";

const policy = loadPolicy();

function decide(role: string, sideEffects: string[], environment?: string): PolicyAnswer {
	const tool = { name: "some-tool", annotations: { readOnlyHint: sideEffects.length === 0 } };
	return policy.decide(
		describeCall({
			tool,
			sideEffects,
			args: {},
			context: environment ? { environment } : {},
			caller: { principal: "p", role },
			at: Date.now(),
		}),
	);
}

describe("the default policy set", () => {
	it("is the bundled one, loads cleanly and has a stable id", () => {
		expect(policy).toMatchObject({ source: "bundled", error: undefined, warning: undefined });
		expect(policy.id).toMatch(/^cedar-[0-9a-f]{12}$/);
		expect(loadPolicy().id).toBe(policy.id);
	});

	it("forbids a viewer every side effect, and nothing else", () => {
		for (const effects of [["publish"], ["deploy"], ["loop"], ["anything"]]) {
			expect(decide("viewer", effects)).toMatchObject({ kind: "forbidden", policies: [{ id: "viewer-read-only" }] });
		}
		expect(decide("viewer", []).kind).toBe("permitted");
	});

	it("lets developers deploy to development and staging; production needs an approval", () => {
		expect(decide("developer", ["deploy"], "development").kind).toBe("permitted");
		expect(decide("developer", ["deploy"], "staging").kind).toBe("permitted");
		expect(decide("developer", ["deploy"], "production")).toMatchObject({
			kind: "needs-approval",
			policies: [{ id: "developer-production-needs-approval", reason: "role 'developer' may deploy to production only with an approval" }],
		});
	});

	it("holds admins' production deploys for an approval too", () => {
		expect(decide("admin", ["Deploy "], "production").kind).toBe("needs-approval");
		expect(decide("admin", ["deployment"], "production").kind).toBe("needs-approval");
	});

	it("leaves publish and loops of developers and admins to the authority", () => {
		for (const role of ["developer", "admin"]) {
			expect(decide(role, ["publish"]).kind).toBe("permitted");
			expect(decide(role, ["loop"]).kind).toBe("permitted");
		}
	});

	it("hides tools with side effects from viewers only", () => {
		const tool = (sideEffects: string[]) => ({ name: `t-${sideEffects.join()}`, sideEffects });
		expect(isListed(policy, { principal: "v", role: "viewer" }, tool(["publish"]))).toBe(false);
		expect(isListed(policy, { principal: "v", role: "viewer" }, tool([]))).toBe(true);
		expect(isListed(policy, { principal: "d", role: "developer" }, tool(["deploy"]))).toBe(true);
	});
});
