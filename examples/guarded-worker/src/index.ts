/**
 * An MCP server of your own on Workers, with two tools of its own, each
 * checked by Stage0 (or, without STAGE0_API_KEY, the simulator) before it
 * runs, with the guard's approvals, limits and audit trail. It uses the
 * package exactly as an application does: by its name, nothing else.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpAgent } from "agents/mcp";
import {
	ApprovalStore,
	AuditLog,
	BudgetStore,
	authenticate,
	callerOfMessage,
	defineTool,
	type Guard,
	type GuardEnv,
	guardFor,
	guardRoutes,
	guardTools,
	registerAuditLogTool,
	sessionsOf,
	withCallerHeader,
} from "stage0-edge-guard";
import { z } from "zod";

// The guard's Durable Objects, bound in wrangler.jsonc as APPROVALS, BUDGETS and AUDIT_LOG.
export { ApprovalStore, AuditLog, BudgetStore };

interface Env extends GuardEnv {
	MCP_OBJECT: DurableObjectNamespace<OrdersAgent>;
}

const orderId = z
	.string()
	.regex(/^ord_[a-z0-9]{1,32}$/, "must look like ord_123")
	.describe("The order, e.g. ord_123");

const lookupOrder = defineTool({
	name: "lookup-order",
	title: "Look up an order",
	description: "The status of an order. Read-only; still checked before it runs.",
	kind: "action",
	sideEffects: [],
	input: { orderId },
	annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
	intent: ({ orderId }) => ({
		goal: `Look up the status of order ${orderId}`,
		success_criteria: ["The order's current status is returned"],
		constraints: ["read_only"],
	}),
	run: ({ orderId }) => ({ orderId, status: "shipped" }),
	summarize: (o) => `Order ${o.orderId} is ${o.status}.`,
});

const refundOrder = defineTool({
	name: "refund-order",
	title: "Refund an order",
	description: "Refund an order to the customer, once the guard allows it.",
	kind: "action",
	sideEffects: ["refund"],
	input: { orderId, amountCents: z.number().int().min(1).max(1_000_000).describe("How much to refund, in cents") },
	annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
	intent: ({ orderId, amountCents }) => ({
		goal: `Refund ${amountCents} cents of order ${orderId} to the customer`,
		success_criteria: ["The customer receives the refund", "The order is marked refunded"],
		context: { resource_scope: orderId },
	}),
	run: ({ orderId, amountCents }) => ({ orderId, refundedCents: amountCents, refundId: crypto.randomUUID() }),
	summarize: (o) => `Refunded ${o.refundedCents} cents of ${o.orderId}.`,
});

export class OrdersAgent extends McpAgent<Env> {
	server = new McpServer({ name: "orders", version: "1.0.0" });
	guard?: Guard;

	async init(): Promise<void> {
		// The caller of each message is the one the Worker authenticated for its request (below).
		this.guard = guardFor(this.env, this.ctx, callerOfMessage, {
			scheduleRetry: () => this.schedule(60, "shipAudit", undefined, { idempotent: true }),
		});
		guardTools(this.server, [lookupOrder, refundOrder], this.guard);
		registerAuditLogTool(this.server, this.guard.readAudit); // optional: the caller's own decisions, as a tool
	}

	/** The durable wake-up that ships audit records a failure left waiting. */
	async shipAudit(): Promise<void> {
		await this.guard?.shipAuditOutbox();
	}
}

const mcp = OrdersAgent.serve("/mcp", { binding: "MCP_OBJECT" });

export default {
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		if (new URL(request.url).pathname === "/health") return Response.json({ ok: true });
		// Bearer tokens from MCP_AUTH_TOKENS (npm run token:new); use your own authentication if you have one.
		const auth = await authenticate(request, env);
		if (!auth.ok) return auth.error;
		// The approvals API (/api/approvals) and the audit API (/api/audit).
		const routed = await guardRoutes(request, env, auth.value);
		if (routed) return routed;
		// The caller of THIS request travels with it to the session (a copy sent by the client is replaced),
		// and reaches only the sessions its own token opened.
		const origin = new URL(request.url).origin;
		const sessions = sessionsOf(env.MCP_OBJECT, auth.value);
		return mcp.fetch(withCallerHeader(request, { ...auth.value, approvalsOrigin: origin }), { ...env, MCP_OBJECT: sessions }, ctx);
	},
} satisfies ExportedHandler<Env>;
