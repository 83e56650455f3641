/** An official MCP SDK client wired straight into the Worker under test. */
import { exports } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

export const workerFetch = ((input: RequestInfo | URL, init?: RequestInit) =>
	exports.default.fetch(new Request(input, init))) as typeof fetch;

export async function connect(transport: "streamable" | "sse" = "streamable"): Promise<Client> {
	const client = new Client({ name: "worker-test", version: "1.0.0" });
	const t =
		transport === "streamable"
			? new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), { fetch: workerFetch })
			: new SSEClientTransport(new URL("http://localhost/sse"), { fetch: workerFetch, eventSourceInit: { fetch: workerFetch } });
	await client.connect(t);
	return client;
}

export type ToolResult = {
	content: { type: string; text: string }[];
	structuredContent?: Record<string, any>;
	isError?: boolean;
};

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
