/** An official MCP SDK client wired straight into the Worker under test. */
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Env } from "../../../src/config";
import worker from "../../../src/index";
import { type GuardedToolResult, GuardedToolResultSchema } from "../../../src/tools/result";

/** How a test reaches the Worker: by default its own handler with its configured bindings. */
export type WorkerFetch = (request: Request) => Promise<Response>;
const viaExports: WorkerFetch = (request) => exports.default.fetch(request);

/**
 * The Worker's handler with some bindings changed, as after a configuration
 * change (its Durable Objects keep the bindings the project was started with).
 */
export function workerWith(overrides: Record<string, string | undefined>): WorkerFetch {
	return (request) => worker.fetch(request, { ...env, ...overrides } as unknown as Env, createExecutionContext());
}

/** Connects as the loopback caller, or with a bearer token. */
export async function connect(
	transport: "streamable" | "sse" = "streamable",
	token?: string,
	via: WorkerFetch = viaExports,
): Promise<Client> {
	const client = new Client({ name: "worker-test", version: "1.0.0" });
	const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
	const withAuth = ((input: RequestInfo | URL, init?: RequestInit) => {
		const request = new Request(input, init);
		for (const [k, v] of Object.entries(headers)) request.headers.set(k, v);
		return via(request);
	}) as typeof fetch;
	const t =
		transport === "streamable"
			? new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), { fetch: withAuth })
			: new SSEClientTransport(new URL("http://localhost/sse"), { fetch: withAuth, eventSourceInit: { fetch: withAuth } });
	await client.connect(t);
	return client;
}

/** A tool's answer as the SDK returns it: for refusals before the pipeline and for tools that are not guarded. */
export interface RawToolResult {
	content: { type: string; text: string }[];
	structuredContent?: Record<string, unknown>;
	isError?: boolean;
}

export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<RawToolResult> {
	return (await client.callTool({ name, arguments: args })) as RawToolResult;
}

/**
 * Calls a guarded tool and returns its result parsed against the one schema of
 * a guarded result (src/tools/result.ts); anything else fails the test, saying what came back.
 */
export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<GuardedToolResult> {
	const result = await client.callTool({ name, arguments: args });
	const parsed = GuardedToolResultSchema.safeParse(result);
	if (!parsed.success) throw new Error(`${name} did not return a guarded result (${parsed.error.message}): ${JSON.stringify(result)}`);
	return parsed.data;
}

/** What a guarded call must have carried; the test fails with the decision's reason when it did not. */
function carried<K extends "approval" | "attempt" | "result">(
	r: GuardedToolResult,
	field: K,
): NonNullable<GuardedToolResult["structuredContent"][K]> {
	const value = r.structuredContent[field];
	if (value === undefined || value === null) {
		throw new Error(`${r.structuredContent.tool} returned no ${field} (${r.structuredContent.verdict}: ${r.structuredContent.reason})`);
	}
	return value;
}

/** The approval a held call offered. */
export const heldApproval = (r: GuardedToolResult) => carried(r, "approval");
/** The server's attempt count of a loop tool's call. */
export const attemptOf = (r: GuardedToolResult) => carried(r, "attempt");
/** The output of an action that ran. */
export const outputOf = (r: GuardedToolResult) => carried(r, "result");

/** A raw JSON-RPC POST to /mcp, as a misbehaving client would send it. */
export function rawPost(body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
	return exports.default.fetch(
		new Request("http://localhost/mcp", {
			method: "POST",
			headers: { accept: "application/json, text/event-stream", "content-type": "application/json", ...headers },
			body,
		}),
	);
}
