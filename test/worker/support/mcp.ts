/** An official MCP SDK client wired straight into the Worker under test. */
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Env } from "../../../src/config";
import worker from "../../../src/index";
import type { ToolResult } from "../../support/results";

export { attemptOf, heldApproval, type StructuredResult, type ToolResult } from "../../support/results";

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

export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
	return (await client.callTool({ name, arguments: args })) as ToolResult;
}

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
