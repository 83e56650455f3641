import { describe, expect, it } from "vitest";
import { applyLocalRules, roleMayEverUse } from "../../src/guard/local-rules";

describe("local rule table", () => {
	it("forbids a viewer every side effect, and nothing else", () => {
		for (const effects of [["publish"], ["deploy"], ["loop"], ["anything"]]) {
			expect(applyLocalRules({ role: "viewer", sideEffects: effects }).kind).toBe("forbidden");
		}
		expect(applyLocalRules({ role: "viewer", sideEffects: [] }).kind).toBe("permitted");
	});

	it("lets developers deploy to development and staging; production needs an approval", () => {
		expect(applyLocalRules({ role: "developer", sideEffects: ["deploy"], environment: "development" }).kind).toBe("permitted");
		expect(applyLocalRules({ role: "developer", sideEffects: ["deploy"], environment: "staging" }).kind).toBe("permitted");
		expect(applyLocalRules({ role: "developer", sideEffects: ["deploy"], environment: "production" })).toMatchObject({
			kind: "needs-approval",
			rule: "developer-production-needs-approval",
		});
	});

	it("holds admins' production deploys for an approval too", () => {
		expect(applyLocalRules({ role: "admin", sideEffects: ["Deploy "], environment: "production" }).kind).toBe("needs-approval");
		expect(applyLocalRules({ role: "admin", sideEffects: ["deployment"], environment: "production" }).kind).toBe("needs-approval");
	});

	it("leaves publish and loops of developers and admins to the authority", () => {
		for (const role of ["developer", "admin"] as const) {
			expect(applyLocalRules({ role, sideEffects: ["publish"] }).kind).toBe("permitted");
			expect(applyLocalRules({ role, sideEffects: ["loop"] }).kind).toBe("permitted");
		}
	});

	it("hides tools with side effects from viewers only", () => {
		expect(roleMayEverUse("viewer", ["publish"])).toBe(false);
		expect(roleMayEverUse("viewer", [])).toBe(true);
		expect(roleMayEverUse("developer", ["deploy"])).toBe(true);
	});
});
