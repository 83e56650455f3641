/**
 * The bench build of the Worker: the real entry (src/index.ts, unchanged, with
 * every export it has) whose MCP Durable Object class additionally serves ONE
 * UNGUARDED tool, `research-topic-unguarded`, as a benchmark baseline.
 *
 * bench/run.ts starts it with the project's own wrangler.jsonc and only the
 * entry point replaced, so bindings and migrations stay those of the product.
 * Because the subclass is exported under the name `GuardAgent`, the
 * MCP_OBJECT binding serves it.
 *
 * The baseline copies the registered research-topic tool (title, input schema,
 * output schema, annotations) from the MCP server and runs the same action,
 * rendered by the same renderReport() with a fixed, prebuilt ALLOW, so its
 * request and response have the guarded tool's shape and size and the client
 * does the same work. What it skips is the guard: no argument hash, rate
 * limit, local rules, intent, check request, authority, loop counter or audit
 * record.
 *
 * In gateway mode (UPSTREAM_MCP_URL set) it serves one more unguarded
 * baseline, `upstream-unguarded.search`: the same forward as the gateway's
 * `upstream.search` (the same UpstreamConnection class, SDK client, transport
 * and size limit, from the same Durable Object, on a connection of its own)
 * without the guard, so that the bench can tell the guard's cost on a
 * forwarded call from the cost of forwarding at all.
 *
 * With the var BENCH_TRACE=1 (bench/profile.ts only, never in the timed
 * runs) it also times, inside the Durable Object, each tool handler, each RPC
 * to the principal's and the approval Durable Objects, and each outbound
 * fetch, and serves them with one more tool, `bench-trace`. Workers' clocks
 * advance only across I/O, so these are I/O waits; CPU time is left to the
 * isolate's CPU profile.
 *
 * Never part of the product: wrangler.jsonc's main is src/index.ts.
 */
import { z } from "zod";
import type { Decision } from "../src/guard/decision";
import { readConfig } from "../src/config";
import { UpstreamConnection } from "../src/gateway/upstream";
import { GuardAgent } from "../src/index";
import { TOOLS } from "../src/tools/definitions";
import { renderReport } from "../src/tools/result";

export * from "../src/index";
export { default } from "../src/index";

const BASE_TOOL = "research-topic";
const UNGUARDED_TOOL = "research-topic-unguarded";
/** The gateway's baseline: `search` on the first upstream, forwarded without the guard. */
const UNGUARDED_FORWARD = "upstream-unguarded.search";

/** What the simulator answers for research-topic, fixed: same fields, same sizes. */
const FIXED_ALLOW: Decision = {
	verdict: "ALLOW",
	decision: "GO",
	reason: "Informational operation with no high-risk side effects",
	request_id: "00000000-0000-4000-8000-000000000000",
	policy_version: "simulated-v1.0.0",
	risk_score: 15,
	high_risk: false,
	issues: [],
	questions: [],
	guardrails: ["read_only"],
	source: "simulated",
	latency_ms: 0,
};

interface RegisteredTool {
	title?: string;
	description?: string;
	inputSchema?: unknown;
	outputSchema?: unknown;
	annotations?: Record<string, unknown>;
}

type Timings = Record<string, number[]>;
const timings: Timings = {};

function note(name: string, started: number): void {
	(timings[name] ??= []).push(performance.now() - started);
}

/** A stub whose RPC methods are timed as `${label}.${method}`. */
function timedStub<T extends object>(stub: T, label: string): T {
	return new Proxy(stub, {
		get(target, prop) {
			if (prop === "then") return undefined;
			const value = Reflect.get(target, prop);
			if (typeof value !== "function" || typeof prop !== "string") return value;
			return async (...args: unknown[]) => {
				const started = performance.now();
				try {
					// Called as a method: an RPC stub's members are stubs too (no .apply).
					return await (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop](...args);
				} catch (error) {
					console.error(`bench trace: ${label}.${prop} failed: ${String(error)}`);
					throw error;
				} finally {
					note(`rpc ${label}.${prop}`, started);
				}
			};
		},
	});
}

function timedNamespace(ns: unknown, label: string): unknown {
	const namespace = ns as DurableObjectNamespace;
	return new Proxy(namespace, {
		get(target, prop) {
			const value = Reflect.get(target, prop);
			if (prop === "get") return (id: DurableObjectId, options?: unknown) => timedStub(target.get(id, options as never), label);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

let fetchTimed = false;

class BenchGuardAgent extends GuardAgent {
	override async init(): Promise<void> {
		const env = this.env as unknown as Record<string, unknown>;
		const trace = env.BENCH_TRACE === "1";
		if (trace) {
			const wrapped: Record<string, unknown> = { ...env };
			for (const [binding, label] of [
				["BUDGETS", "BudgetStore"],
				["AUDIT_LOG", "AuditLog"],
				["APPROVALS", "ApprovalStore"],
			] as const) {
				if (env[binding]) wrapped[binding] = timedNamespace(env[binding], label);
			}
			(this as unknown as { env: unknown }).env = wrapped;
			if (!fetchTimed) {
				fetchTimed = true;
				const original = globalThis.fetch;
				globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
					const started = performance.now();
					try {
						return await original(input, init);
					} finally {
						note("fetch (outbound)", started);
					}
				}) as typeof fetch;
			}
		}
		await super.init();
		const definition = TOOLS.find((t) => t.name === BASE_TOOL);
		const registered = (this.server as unknown as { _registeredTools?: Record<string, RegisteredTool> })._registeredTools?.[BASE_TOOL];
		if (!definition?.run || !registered) throw new Error(`bench: ${BASE_TOOL} is not registered`);
		const run = definition.run.bind(definition);
		// Loosely typed on purpose: the schemas are whatever register.ts registered.
		const register = this.server.registerTool.bind(this.server) as unknown as (
			name: string,
			config: Record<string, unknown>,
			handler: (args: Record<string, unknown>) => Promise<unknown>,
		) => void;
		register(
			UNGUARDED_TOOL,
			{
				title: `${registered.title ?? BASE_TOOL} (unguarded bench baseline)`,
				description: registered.description,
				inputSchema: registered.inputSchema,
				outputSchema: registered.outputSchema,
				annotations: registered.annotations,
			},
			async (args: Record<string, unknown>) => {
				const { approvalId: _ignored, ...toolArgs } = args;
				const output = await run(toolArgs as never, { decision: FIXED_ALLOW });
				const outcome = { decision: FIXED_ALLOW, action: { status: "executed", output }, notes: [] };
				return renderReport(UNGUARDED_TOOL, definition.kind, outcome as never, definition.summarize);
			},
		);
		const gateway = readConfig(this.env).gateway;
		const upstream = gateway.upstreams[0];
		if (upstream && !upstream.error) {
			const passthrough = new UpstreamConnection(upstream, gateway.refreshSeconds * 1000, { scrub: (text) => text, onTools: () => {} });
			register(
				UNGUARDED_FORWARD,
				{ description: "bench only: search on the first upstream, forwarded without the guard", inputSchema: { query: z.string() } },
				async (args: Record<string, unknown>) => passthrough.call("search", args, { retrySafe: true }),
			);
		}
		if (trace) {
			const tools = (this.server as unknown as { _registeredTools: Record<string, { handler: (...a: unknown[]) => Promise<unknown> }> })
				._registeredTools;
			for (const [name, tool] of Object.entries(tools)) {
				const handler = tool.handler;
				tool.handler = async (...args: unknown[]) => {
					const started = performance.now();
					try {
						return await handler(...args);
					} finally {
						note(`handler ${name}`, started);
					}
				};
			}
			register("bench-trace", { description: "bench only: the timings so far, then reset" }, async () => {
				const text = JSON.stringify(timings);
				for (const k of Object.keys(timings)) delete timings[k];
				return { content: [{ type: "text", text }] };
			});
		}
	}
}

export { BenchGuardAgent as GuardAgent };
