/**
 * GUARD_POLICY about a library user's own tool (src/lib.ts: defineTool, guardFor, guardTools): registering the
 * tool gives the policy its argument types, so a rule about its arguments validates (the policy is reloaded
 * for it) and decides each call by them, before Stage0 is asked.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { defineTool, type GuardEnv, guardFor, guardTools } from "../../../src/lib";
import { localPolicyFor } from "../../../src/policy/workerd";
import { GuardedToolResultSchema } from "../../../src/tools/result";
import { mockStage0, stage0Answer } from "../support/stage0";

const payInvoice = defineTool({
	name: "pay-invoice",
	title: "Pay an invoice",
	description: "Pays a supplier's invoice.",
	kind: "action",
	sideEffects: ["payment"],
	input: {
		invoiceId: z.string().regex(/^inv_[0-9]{1,12}$/),
		amountCents: z.number().int().min(1).max(10_000_000),
	},
	annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
	intent: ({ invoiceId, amountCents }) => ({
		goal: `Pay ${amountCents} cents for invoice ${invoiceId}`,
		success_criteria: ["The supplier is paid"],
	}),
	run: ({ invoiceId, amountCents }) => ({ invoiceId, paidCents: amountCents }),
	summarize: (o) => `Paid ${o.paidCents} cents for ${o.invoiceId}.`,
});

const POLICY = `@id("guarded-tools")
permit (principal, action == Action::"call_tool", resource);

@id("no-large-payments")
@reason("payments over 1,000.00 are made by a person, not an agent")
forbid (principal, action == Action::"call_tool", resource == Tool::"pay-invoice")
when { context.arguments has amountCents && context.arguments.amountCents > 100000 };
`;

afterEach(() => vi.restoreAllMocks());

describe("GUARD_POLICY about the arguments of a tool registered with guardTools", () => {
	it("validates once the tool is registered, refuses a call over the limit before Stage0 is asked, and lets one under it through", async () => {
		const sent = mockStage0(() => stage0Answer("ALLOW"));
		// Before any such tool is registered in this isolate, no tool takes amountCents: the rule could never apply.
		expect(localPolicyFor(POLICY).error).toMatch(/policy 'no-large-payments' can never apply/);

		const session = env.MCP_OBJECT.get(env.MCP_OBJECT.idFromName("library-tool-policy"));
		const { policyError, over, under, sentAfterOver } = await runInDurableObject(session, async (_agent, state) => {
			const server = new McpServer({ name: "payments", version: "1.0.0" });
			const guard = guardFor({ ...env, GUARD_POLICY: POLICY } as GuardEnv, state, { principal: "alice", role: "developer" });
			guardTools(server, [payInvoice], guard);
			const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
			await server.connect(serverSide);
			const client = new Client({ name: "library-tool-policy", version: "1" });
			await client.connect(clientSide);
			const pay = async (amountCents: number) =>
				GuardedToolResultSchema.parse(await client.callTool({ name: "pay-invoice", arguments: { invoiceId: "inv_1", amountCents } }));
			try {
				const over = await pay(250_000);
				const sentAfterOver = sent.length;
				return { policyError: guard.policy.error, over, sentAfterOver, under: await pay(99_000) };
			} finally {
				await client.close();
			}
		});

		expect(policyError).toBeUndefined();
		expect(sentAfterOver).toBe(0);
		expect(over.isError).toBe(true);
		expect(over.structuredContent).toMatchObject({
			verdict: "DENY",
			source: "local-rule",
			executed: false,
			reason: expect.stringContaining("no-large-payments"),
		});
		expect(over.structuredContent.approval ?? undefined).toBeUndefined(); // forbidden outright: no approval can lift it
		expect(sent).toHaveLength(1);
		expect(under.structuredContent).toMatchObject({
			verdict: "ALLOW",
			source: "stage0",
			executed: true,
			result: { invoiceId: "inv_1", paidCents: 99_000 },
		});
	});
});
