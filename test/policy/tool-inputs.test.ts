/**
 * What guardTools records of the tools it registers (src/policy/tool-inputs.ts): a library user's tool's
 * input becomes part of the policy's argument types, and only a new schema changes the recorded set (each
 * change reloads the policy in the Worker, so registering the same tools in every session must not).
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeCall } from "../../src/guard/local-policy";
import { loadPolicy } from "../../src/policy/node";
import { recordedInputSchemas, recordToolInputSchemas } from "../../src/policy/tool-inputs";
import { TOOLS } from "../../src/tools/definitions";

const refundInput = { orderId: z.string().regex(/^ord_[a-z0-9]{1,32}$/), amountCents: z.number().int().min(1).max(1_000_000) };

const LARGE_REFUNDS = `@id("guarded-tools")
permit (principal, action == Action::"call_tool", resource);
@id("large-refunds-need-a-person")
@reason("a refund over 1,000.00 needs a person's approval")
forbid (principal, action == Action::"call_tool", resource == Tool::"refund-order")
when { context.arguments has amountCents && context.arguments.amountCents > 100000 }
unless { context.approved };
`;

const refund = (amountCents: number) =>
	describeCall({
		tool: { name: "refund-order", annotations: { destructiveHint: true } },
		sideEffects: ["refund"],
		args: { orderId: "ord_1", amountCents },
		context: {},
		caller: { principal: "alice", role: "developer" },
		at: Date.now(),
	});

describe("the input schemas of tools registered with guardTools", () => {
	it("the built-in tools' change nothing (they are always there)", () => {
		const before = recordedInputSchemas();
		recordToolInputSchemas(TOOLS.map((tool) => tool.input));
		expect(recordedInputSchemas()).toEqual(before);
	});

	it("a new tool's are recorded once, and a policy about its arguments validates and decides by them", () => {
		expect(loadPolicy(LARGE_REFUNDS, "GUARD_POLICY", [...recordedInputSchemas().schemas]).error).toMatch(
			/policy 'large-refunds-need-a-person' can never apply/,
		);
		const before = recordedInputSchemas().version;
		recordToolInputSchemas([refundInput]);
		const once = recordedInputSchemas();
		expect(once.version).toBe(before + 1);
		// Every session registers its tools again; an equal schema (even from another object) changes nothing.
		recordToolInputSchemas([refundInput, { ...refundInput }]);
		expect(recordedInputSchemas().version).toBe(once.version);

		const policy = loadPolicy(LARGE_REFUNDS, "GUARD_POLICY", [...once.schemas]);
		expect(policy.error).toBeUndefined();
		expect(policy.decide(refund(99_999)).kind).toBe("permitted");
		expect(policy.decide(refund(100_001))).toMatchObject({
			kind: "needs-approval",
			policies: [{ id: "large-refunds-need-a-person", reason: "a refund over 1,000.00 needs a person's approval" }],
		});
	});
});
