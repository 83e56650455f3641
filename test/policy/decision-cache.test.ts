/**
 * The engine's shortcuts (the per-isolate decision cache, leaving unread facts out, skipping the second
 * evaluation when no approval could matter) never change a decision: every answer equals the one Cedar gives
 * for the whole request, evaluated from scratch, whatever was decided before.
 */
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PolicyCall, PolicyAnswer } from "../../src/guard/local-policy";
import { loadPolicy } from "../../src/policy/node";

// Every fact of a request is read by some policy, so a cache key missing any of them would show.
const TEXT = `@id("all") permit (principal, action == Action::"call_tool", resource);
@id("mallory") forbid (principal == User::"mallory", action == Action::"call_tool", resource);
@id("viewer") forbid (principal, action == Action::"call_tool", resource) when { principal.role == "viewer" && !resource.readOnly };
@id("blocked") forbid (principal, action == Action::"call_tool", resource) when { principal has groups && principal.groups.contains("blocked") };
@id("drop") forbid (principal, action == Action::"call_tool", resource == Tool::"up.drop") unless { context.approved };
@id("legacy") forbid (principal, action == Action::"call_tool", resource) when { resource.server == "legacy" && resource.destructive };
@id("retries") forbid (principal, action == Action::"call_tool", resource) when { context has retryCount && context.retryCount > 2 && !resource.idempotent };
@id("publish") forbid (principal, action == Action::"call_tool", resource) when { resource.openWorld && resource.sideEffects.contains("publish") }
  unless { context.approved && principal has groups && principal.groups.contains("release") };
@id("billing") forbid (principal, action == Action::"call_tool", resource) when { context.arguments has serviceName && context.arguments.serviceName == "billing" }
  unless { context.approved };
@id("count") forbid (principal, action == Action::"call_tool", resource) when { context.arguments has count && context.arguments.count > 10 };
@id("production") forbid (principal, action == Action::"call_tool", resource)
  when { context has environment && context.environment == "production" && resource.sideEffects.contains("deploy") } unless { context.approved };
@id("night") forbid (principal, action == Action::"call_tool", resource) when { context.hour < 6 || context.weekday == "Sunday" } unless { context.approved };
`;
const COUNT_SCHEMA = { type: "object", properties: { count: { type: "integer" } } };
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

// Sets that read only some facts: what they do not read is left out of the engine's request (not the oracle's).
const FEW = `@id("all") permit (principal, action == Action::"call_tool", resource);
@id("viewer") forbid (principal, action == Action::"call_tool", resource) when { principal.role == "viewer" && !resource.sideEffects.isEmpty() };
@id("production") forbid (principal, action == Action::"call_tool", resource)
  when { context has environment && context.environment == "production" } unless { context.approved };
`;
const LITERAL = `${FEW}@id("literal") forbid (principal == User::"alice", action == Action::"call_tool", resource)
  when { User::"alice".role == "viewer" || {tool: resource}.tool.destructive };
`;
const TEXTS = { all: TEXT, few: FEW, literal: LITERAL };
// Parsed from the text as one string, so Cedar names the policies policy0, policy1, … in the text's order.
for (const [name, text] of Object.entries(TEXTS)) cedar.preparsePolicySet(`oracle-${name}`, { staticPolicies: text });

/** The oracle: the whole request, every fact in it, evaluated by Cedar from the text, as is and then as approved. */
function fromScratch(set: keyof typeof TEXTS, call: PolicyCall): PolicyAnswer {
	const hints = call.tool.annotations ?? {};
	const principal = { type: "User", id: call.caller.principal };
	const resource = { type: "Tool", id: call.tool.name };
	const entities = [
		{
			uid: principal,
			attrs: { role: call.caller.role, ...(call.caller.groups?.length ? { groups: call.caller.groups } : {}) },
			parents: [],
		},
		{
			uid: resource,
			attrs: {
				server: call.tool.server,
				readOnly: hints.readOnlyHint === true,
				destructive: hints.destructiveHint !== false,
				idempotent: hints.idempotentHint === true,
				openWorld: hints.openWorldHint !== false,
				sideEffects: [...new Set(call.tool.sideEffects.map((s) => s.trim().toLowerCase()))],
			},
			parents: [],
		},
	];
	const date = new Date(call.at);
	const ask = (approved: boolean) => {
		const answer = cedar.statefulIsAuthorized({
			principal,
			action: { type: "Action", id: "call_tool" },
			resource,
			context: {
				arguments: call.arguments,
				approved,
				hour: date.getUTCHours(),
				weekday: WEEKDAYS[date.getUTCDay()],
				...(call.environment !== undefined ? { environment: call.environment } : {}),
				...(call.retryCount !== undefined ? { retryCount: call.retryCount } : {}),
			} as never,
			preparsedPolicySetId: `oracle-${set}`,
			entities: entities as never,
		});
		if (answer.type !== "success" || answer.response.diagnostics.errors.length > 0) throw new Error("the oracle failed");
		return answer.response;
	};
	const asIs = ask(false);
	if (asIs.decision === "allow") return { kind: "permitted" };
	const ids = /^@id\("([^"]+)"\)/gm;
	const order = [...TEXTS[set].matchAll(ids)].map((m) => m[1]!);
	// Cedar names policies policy0, policy1, … for a text without ids in its parser; with @id the engine renames them.
	const policies = asIs.diagnostics.reason
		.map((r) => order[Number(/^policy(\d+)$/.exec(r)?.[1])] ?? r)
		.sort((a, b) => order.indexOf(a) - order.indexOf(b));
	return ask(true).decision === "allow"
		? { kind: "needs-approval", policies: policies as never }
		: { kind: "forbidden", policies: policies as never, reason: "" };
}

/** Just what a person reads of an outcome: its kind and the determining policies' ids. */
function summary(outcome: PolicyAnswer): { kind: string; policies?: string[] } {
	if (outcome.kind === "needs-approval" || outcome.kind === "forbidden")
		return { kind: outcome.kind, policies: outcome.policies.map((p) => (typeof p === "string" ? p : p.id)) };
	return { kind: outcome.kind };
}

// Small domains, so that a run meets the same request again and requests that differ in one fact only.
const call: fc.Arbitrary<PolicyCall> = fc
	.record({
		caller: fc.record({
			principal: fc.constantFrom("alice", "mallory"),
			role: fc.constantFrom("developer", "viewer"),
			groups: fc.constantFrom(undefined, [], ["release"], ["blocked"], ["release", "ops"]),
		}),
		tool: fc.record({
			name: fc.constantFrom("deploy-changes", "up.drop", "up.read"),
			server: fc.constantFrom("builtin", "legacy"),
			annotations: fc.constantFrom(
				undefined,
				{ readOnlyHint: true },
				{ destructiveHint: false, idempotentHint: true },
				{ openWorldHint: false },
			),
			sideEffects: fc.constantFrom([], ["deploy"], ["Deploy "], ["publish"], ["publish", "deploy"]),
		}),
		arguments: fc.record({ serviceName: fc.constantFrom("billing", "search"), count: fc.constantFrom(1, 11) }, { requiredKeys: [] }),
		environment: fc.constantFrom(undefined, "production", "staging"),
		retryCount: fc.constantFrom(undefined, 1, 3),
		at: fc.constantFrom(Date.parse("2026-11-25T10:00:00Z"), Date.parse("2026-11-25T03:00:00Z"), Date.parse("2026-11-29T10:00:00Z")),
	})
	.map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as PolicyCall);

const FACTS = [
	"principal",
	"role",
	"groups",
	"name",
	"server",
	"annotations",
	"sideEffects",
	"arguments",
	"environment",
	"retryCount",
	"at",
] as const;

/** `c` with one fact of `other`'s (absent if `other` has none). */
function withFact(c: PolicyCall, other: PolicyCall, fact: (typeof FACTS)[number]): PolicyCall {
	const caller = { ...c.caller };
	const tool = { ...c.tool };
	const call: Record<string, unknown> = { ...c, caller, tool };
	const [target, source] =
		fact === "principal" || fact === "role" || fact === "groups"
			? [caller as Record<string, unknown>, other.caller as unknown as Record<string, unknown>]
			: fact === "name" || fact === "server" || fact === "annotations" || fact === "sideEffects"
				? [tool as Record<string, unknown>, other.tool as unknown as Record<string, unknown>]
				: [call, other as unknown as Record<string, unknown>];
	if (source[fact] === undefined) delete target[fact];
	else target[fact] = source[fact];
	return call as unknown as PolicyCall;
}

describe("the decision cache and the engine's shortcuts", () => {
	const policy = loadPolicy(TEXT, "GUARD_POLICY", [COUNT_SCHEMA]);
	const few = loadPolicy(FEW, "GUARD_POLICY", [COUNT_SCHEMA]);
	const literal = loadPolicy(LITERAL, "GUARD_POLICY", [COUNT_SCHEMA]);

	it("load the test's policy set cleanly", () => {
		expect([policy.error, few.error, literal.error]).toEqual([undefined, undefined, undefined]);
	});

	it("never serve a request another request's decision: every answer is Cedar's answer from scratch", () => {
		fc.assert(
			// A call, then the same call with one fact taken from another call: the near misses a bad key would confuse.
			fc.property(fc.array(fc.tuple(call, call, fc.constantFrom(...FACTS)), { minLength: 1, maxLength: 20 }), (pairs) => {
				for (const [c, other, fact] of pairs) {
					for (const each of [c, withFact(c, other, fact)])
						for (const [set, engine] of [
							["all", policy],
							["few", few],
							["literal", literal],
						] as const)
							expect({ set, ...summary(engine.decide(each)) }).toEqual({ set, ...summary(fromScratch(set, each)) });
				}
			}),
			{ numRuns: 120 },
		);
	}, 60_000);

	it("answer a request that differs from a remembered one in a single fact by that fact", () => {
		const base: PolicyCall = {
			caller: { principal: "alice", role: "developer" },
			tool: {
				name: "up.read",
				server: "builtin",
				annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
				sideEffects: [],
			},
			arguments: { serviceName: "search", count: 1 },
			at: Date.parse("2026-11-25T10:00:00Z"),
		};
		expect(policy.decide(base).kind).toBe("permitted");
		const changed: [string, PolicyCall, PolicyAnswer["kind"]][] = [
			["principal", { ...base, caller: { ...base.caller, principal: "mallory" } }, "forbidden"],
			["role", { ...base, caller: { ...base.caller, role: "viewer" }, tool: { ...base.tool, annotations: {} } }, "forbidden"],
			["groups", { ...base, caller: { ...base.caller, groups: ["blocked"] } }, "forbidden"],
			["tool", { ...base, tool: { ...base.tool, name: "up.drop" } }, "needs-approval"],
			["server", { ...base, tool: { ...base.tool, server: "legacy", annotations: { destructiveHint: true } } }, "forbidden"],
			["side effects", { ...base, tool: { ...base.tool, sideEffects: ["deploy"] }, environment: "production" }, "needs-approval"],
			["argument", { ...base, arguments: { serviceName: "billing", count: 1 } }, "needs-approval"],
			["number argument", { ...base, arguments: { serviceName: "search", count: 11 } }, "forbidden"],
			[
				"retry count",
				{ ...base, tool: { ...base.tool, annotations: { idempotentHint: false, readOnlyHint: true } }, retryCount: 3 },
				"forbidden",
			],
			["hour", { ...base, at: Date.parse("2026-11-25T03:00:00Z") }, "needs-approval"],
			["weekday", { ...base, at: Date.parse("2026-11-29T10:00:00Z") }, "needs-approval"],
		];
		for (const [fact, c, kind] of changed) {
			expect({ fact, kind: policy.decide(c).kind }).toEqual({ fact, kind });
			expect({ fact, kind: policy.decide(base).kind }).toEqual({ fact, kind: "permitted" });
		}
	});

	it("hand out remembered outcomes that no caller can change", () => {
		const c: PolicyCall = {
			...({} as PolicyCall),
			caller: { principal: "mallory", role: "developer" },
			tool: { name: "x", server: "builtin", sideEffects: [] },
			arguments: {},
			at: Date.parse("2026-11-25T10:00:00Z"),
		};
		const first = policy.decide(c);
		expect(first.kind).toBe("forbidden");
		expect(() => (first as { policies: unknown[] }).policies.push({ id: "forged", reason: "" })).toThrow(TypeError);
		expect(summary(policy.decide(c))).toEqual({ kind: "forbidden", policies: ["mallory"] });
	});
});
