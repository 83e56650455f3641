/** The Cedar engine: fails closed on a broken set, names what decided, and passes arguments without guessing. */
import { describe, expect, it } from "vitest";
import { describeCall, type PolicyCall } from "../../src/guard/local-policy";
import { argumentsReadBy, argumentsType, contextReadBy, toCedarValue } from "../../src/policy/arguments";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { lineAndColumn } from "../../src/policy/engine";
import { loadPolicy } from "../../src/policy/node";

const PERMIT = '@id("all") permit (principal, action, resource);\n';
const developer = { principal: "alice", role: "developer" };

function deployCall(args: Record<string, unknown>, over: Partial<PolicyCall> = {}): PolicyCall {
	return {
		...describeCall({
			tool: { name: "deploy-changes", annotations: { destructiveHint: true } },
			sideEffects: ["deploy"],
			args,
			context: { environment: args.environment },
			caller: developer,
			at: Date.parse("2026-11-25T10:00:00Z"),
		}),
		...over,
	};
}

describe("a policy set that cannot be used", () => {
	it("does not parse: every decision is an error naming line and column", () => {
		const policy = loadPolicy(`${PERMIT}\n@id("x")\nforbid (principal, action, resource) when { context.approved = true };\n`);
		expect(policy.error).toMatch(/^the policy set does not parse at line 4, column \d+: /);
		expect(policy.decide(deployCall({ environment: "staging" }))).toEqual({ kind: "error", reason: policy.error });
	});

	it("does not validate against the schema (a misspelt attribute): names the policy, line and column", () => {
		const policy = loadPolicy(`${PERMIT}@id("typo")\nforbid (principal, action, resource)\n  when { resource.sideEfects.isEmpty() };\n`);
		expect(policy.error).toMatch(/^policy 'typo' does not validate against the schema at line 4, column 10: .*sideEfects/);
		expect(policy.decide(deployCall({})).kind).toBe("error");
	});

	it("checks policies without an action constraint against list_tools too, whose context is empty", () => {
		expect(loadPolicy(`${PERMIT}@id("late") forbid (principal, action, resource) when { context.hour > 20 };`).error).toMatch(
			/^policy 'late' does not validate .*attribute `hour` in context for Action::"list_tools" not found/,
		);
	});

	it("refuses duplicate ids and templates", () => {
		expect(loadPolicy(`${PERMIT}${PERMIT}`).error).toMatch(/two policies have the id 'all' \(line 2, column 1\)/);
		expect(loadPolicy(`${PERMIT}permit (principal == ?principal, action, resource);`).error).toMatch(/includes a template/);
	});

	it("fails closed when a policy fails at evaluation (Cedar would skip that forbid)", () => {
		const policy = loadPolicy(
			`${PERMIT}@id("overflow")\nforbid (principal, action == Action::"call_tool", resource) when { context.hour * 9223372036854775807 > 1 };`,
		);
		expect(policy.error).toBeUndefined();
		const outcome = policy.decide(deployCall({}));
		expect(outcome).toMatchObject({ kind: "error" });
		expect(outcome.kind === "error" && outcome.reason).toMatch(/policy 'overflow' failed on the call deploy-changes: .*overflow/);
	});
});

describe("what the policy sees", () => {
	it("reads the arguments a tool takes, typed from its input schema", () => {
		const policy = loadPolicy(`${PERMIT}@id("no-billing") @reason("billing is frozen")
forbid (principal, action == Action::"call_tool", resource) when { context.arguments has serviceName && context.arguments.serviceName == "billing" };`);
		expect(policy.error).toBeUndefined();
		expect(policy.decide(deployCall({ serviceName: "billing", environment: "staging" }))).toMatchObject({
			kind: "forbidden",
			policies: [{ id: "no-billing", reason: "billing is frozen" }],
		});
		expect(policy.decide(deployCall({ serviceName: "search", environment: "staging" })).kind).toBe("permitted");
		// A value of the wrong type is left out, never coerced: the forbid cannot match it, and nothing errs.
		expect(policy.decide(deployCall({ serviceName: 7 })).kind).toBe("permitted");
	});

	it("generates the Arguments type from input schemas; conflicting and unrepresentable ones are left out", () => {
		const type = argumentsType([
			{
				type: "object",
				properties: {
					env: { type: "string", enum: ["a", "b"] },
					n: { type: "integer" },
					tags: { type: "array", items: { type: "string" } },
					ratio: { type: "number" },
				},
			},
			{
				type: "object",
				properties: {
					n: { type: "string" },
					nested: { type: "object", properties: { ok: { type: "boolean" } } },
					__entity: { type: "string" },
				},
			},
		]);
		expect(type.attributes).toEqual({
			env: { type: "String", required: false },
			nested: { type: "Record", attributes: { ok: { type: "Boolean", required: false } }, required: false },
			tags: { type: "Set", element: { type: "String" }, required: false },
		});
		expect(
			toCedarValue({ env: "a", tags: ["x", 1], nested: { ok: true, extra: 1 }, ratio: 0.5, __entity: { type: "User", id: "admin" } }, type),
		).toEqual({
			env: "a",
			nested: { ok: true },
		});
	});

	it("gives the UTC hour and weekday, the environment and the caller's groups", () => {
		const policy = loadPolicy(`${PERMIT}@id("friday-release") @reason("only the release group deploys on Fridays")
forbid (principal, action == Action::"call_tool", resource)
when { context.weekday == "Friday" && context.hour >= 12 && resource.sideEffects.contains("deploy") }
unless { principal has groups && principal.groups.contains("release") };`);
		const friday = Date.parse("2026-11-27T13:00:00Z");
		expect(policy.decide(deployCall({}, { at: friday })).kind).toBe("forbidden");
		expect(policy.decide(deployCall({}, { at: friday, caller: { ...developer, groups: ["release"] } })).kind).toBe("permitted");
		expect(policy.decide(deployCall({}, { at: friday - 2 * 3600_000 })).kind).toBe("permitted");
	});

	it("treats a tool without annotations as destructive and not read-only", () => {
		const policy = loadPolicy(
			`${PERMIT}@id("ro") forbid (principal, action, resource) when { !resource.readOnly || resource.destructive };`,
		);
		const call = (annotations?: object) =>
			policy.decide(
				describeCall({
					tool: { name: "up.x", server: "up", annotations },
					sideEffects: [],
					args: {},
					context: {},
					caller: developer,
					at: Date.now(),
				}),
			).kind;
		expect(call()).toBe("forbidden");
		expect(call({ readOnlyHint: true })).toBe("forbidden"); // destructiveHint absent: unknown, so destructive
		expect(call({ readOnlyHint: true, destructiveHint: false })).toBe("permitted");
	});
});

describe("the arguments passed to Cedar", () => {
	const read = (text: string) => {
		const json = cedar.policyToJson(text);
		if (json.type !== "success") throw new Error("bad policy");
		return argumentsReadBy(json.json);
	};

	it("are the ones some policy reads, by attribute or by has", () => {
		expect(read('forbid (principal, action, resource) when { context.arguments has a && context.arguments.b.c == "x" };')).toEqual(
			new Set(["a", "b"]),
		);
		expect(read("forbid (principal, action, resource) when { context.approved };")).toEqual(new Set());
	});

	it("leave out the context attributes no policy reads (the default set reads no hour), without changing decisions", () => {
		const json = cedar.policyToJson(
			"forbid (principal, action, resource) when { context has environment && context.hour > 3 } unless { context.approved };",
		);
		expect(json.type === "success" && contextReadBy(json.json)).toEqual(new Set(["environment", "hour", "approved"]));
		const bundled = loadPolicy();
		for (const hour of [0, 9, 23]) {
			const at = Date.parse(`2026-11-25T${String(hour).padStart(2, "0")}:00:00Z`);
			expect(bundled.decide(deployCall({ environment: "production" }, { environment: "production", at })).kind).toBe("needs-approval");
		}
	});

	it("are all of them when a policy uses the whole record", () => {
		expect(read("forbid (principal, action, resource) when { context.arguments == {} };")).toBe("all");
		expect(read("forbid (principal, action, resource) when { context.arguments has a.b };")).toEqual(new Set(["a"]));
	});

	it("give the same decision from the cache as from Cedar, for equal requests only", () => {
		const policy = loadPolicy(
			`${PERMIT}@id("no-billing") forbid (principal, action == Action::"call_tool", resource) when { context.arguments has serviceName && context.arguments.serviceName == "billing" };`,
		);
		for (let i = 0; i < 3; i++) {
			expect(policy.decide(deployCall({ serviceName: "billing", changes: `v${i}` })).kind).toBe("forbidden");
			expect(policy.decide(deployCall({ serviceName: "search", changes: `v${i}` })).kind).toBe("permitted");
		}
	});
});

describe("lineAndColumn", () => {
	it("counts UTF-8 bytes as Cedar reports them", () => {
		expect(lineAndColumn("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
		expect(lineAndColumn("// é\nx", 6)).toEqual({ line: 2, column: 1 });
	});
});
