/**
 * One upstream MCP server, seen as an MCP client (the official SDK's Client):
 * its connection (Streamable HTTP, falling back to legacy SSE), its cached
 * tool list, and calls to its tools with a time limit and a size limit.
 *
 * A connection is opened once and reused for every call until it breaks; the
 * tool list is cached and refreshed on the upstream's
 * notifications/tools/list_changed, on request, and when it is older than
 * UPSTREAM_REFRESH_SECONDS. Every error message names the upstream and never
 * quotes a header value.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CallToolResultSchema, ErrorCode, McpError, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { SERVER_INFO } from "../server-info";
import { MAX_UPSTREAM_RESPONSE_BYTES, type UpstreamConfig } from "./config";

export type UpstreamTool = Tool;

export interface UpstreamStatus {
	name: string;
	state: "connecting" | "connected" | "error" | "misconfigured";
	tools: number;
	transport?: "streamable-http" | "sse";
	last_error?: string;
	/** Connections this object opened to the upstream (a reconnect counts). */
	connections_opened: number;
	checked_at?: string;
}

/** A failure talking to an upstream, already worded for a person and scrubbed of header values. */
export class UpstreamError extends Error {
	constructor(
		message: string,
		readonly kind: "unreachable" | "session-lost" | "timeout" | "protocol" | "too-large" | "vanished" | "misconfigured",
	) {
		super(message);
	}
}

export interface UpstreamHooks {
	/** The tool list changed (or was listed for the first time). */
	onTools(tools: UpstreamTool[]): void;
	/** Removes header values from any text that leaves this module. */
	scrub(text: string): string;
	/** Any state change (for GET /). */
	onStatus?(status: UpstreamStatus): void;
}

export class UpstreamConnection {
	#client?: Client;
	#connecting?: Promise<Client>;
	#tools: UpstreamTool[] = [];
	#listedAt = 0;
	#status: UpstreamStatus;

	constructor(
		readonly config: UpstreamConfig,
		private readonly refreshMs: number,
		private readonly hooks: UpstreamHooks,
	) {
		this.#status = config.error
			? { name: config.name, state: "misconfigured", tools: 0, last_error: config.error, connections_opened: 0 }
			: { name: config.name, state: "connecting", tools: 0, connections_opened: 0 };
	}

	status(): UpstreamStatus {
		return { ...this.#status };
	}

	tools(): readonly UpstreamTool[] {
		return this.#tools;
	}

	/** Connects if needed and lists the tools; resolves with them, or rejects with an UpstreamError. */
	async start(): Promise<readonly UpstreamTool[]> {
		await this.#connected();
		return this.#tools;
	}

	/** Lists the tools again now (an explicit refresh). */
	async refresh(): Promise<readonly UpstreamTool[]> {
		const client = await this.#connected();
		await this.#list(client);
		return this.#tools;
	}

	/** Refreshes in the background when the cached list is older than UPSTREAM_REFRESH_SECONDS. */
	refreshIfStale(): void {
		if (this.#client && Date.now() - this.#listedAt > this.refreshMs) this.refresh().catch(() => {});
	}

	/**
	 * Calls a tool by its upstream name. The result is the upstream's own,
	 * validated against its output schema by the client. A call that may be
	 * repeated safely (read-only or idempotent, by the upstream's annotations) is
	 * tried once more when the connection failed under it (e.g. a pooled
	 * connection the upstream had just closed); any other call is not, since it
	 * may have run.
	 */
	async call(tool: string, args: Record<string, unknown>, options: { retrySafe?: boolean } = {}): Promise<CallToolResult> {
		let result: CallToolResult;
		try {
			result = await this.#callOnce(tool, args);
		} catch (error) {
			// A lost session refused the call before it ran: any call may go again, on a new session.
			const again =
				error instanceof UpstreamError && (error.kind === "session-lost" || (error.kind === "unreachable" && options.retrySafe));
			if (!again) throw error;
			result = await this.#callOnce(tool, args);
		}
		// An upstream answers an unknown tool with an error result: if the tool is gone from its list, say so.
		if (result.isError) {
			const still = await this.refresh()
				.then((tools) => tools.some((t) => t.name === tool))
				.catch(() => true);
			if (!still) throw new UpstreamError(`upstream '${this.config.name}' no longer offers the tool '${tool}'`, "vanished");
		}
		const serialized = JSON.stringify(result);
		if (serialized.length > MAX_UPSTREAM_RESPONSE_BYTES) {
			throw new UpstreamError(`upstream '${this.config.name}' answered more than ${MAX_UPSTREAM_RESPONSE_BYTES} bytes`, "too-large");
		}
		this.refreshIfStale();
		// The result is passed on unchanged, except for a header value it echoes: that never reaches the caller.
		const scrubbed = this.hooks.scrub(serialized);
		return scrubbed === serialized ? result : (JSON.parse(scrubbed) as CallToolResult);
	}

	async #callOnce(tool: string, args: Record<string, unknown>): Promise<CallToolResult> {
		const client = await this.#connected();
		try {
			return (await client.callTool({ name: tool, arguments: args }, CallToolResultSchema, {
				timeout: this.config.timeoutMs,
				maxTotalTimeout: this.config.timeoutMs,
			})) as CallToolResult;
		} catch (error) {
			const failure = this.#describe(error, `calling '${tool}'`);
			// The upstream forgot the session (it restarted): the next call opens a new one.
			if (failure.kind === "unreachable" && (error as { code?: unknown }).code === 404) {
				this.#drop(client, failure.message);
				throw new UpstreamError(`upstream '${this.config.name}' no longer knows the session (calling '${tool}')`, "session-lost");
			}
			// A JSON-RPC error for a tool the upstream no longer has: say so, and stop offering it.
			if (failure.kind === "protocol") {
				const still = await this.refresh()
					.then((tools) => tools.some((t) => t.name === tool))
					.catch(() => true);
				if (!still) throw new UpstreamError(`upstream '${this.config.name}' no longer offers the tool '${tool}'`, "vanished");
			}
			throw failure;
		}
	}

	async close(): Promise<void> {
		const client = this.#client;
		this.#client = undefined;
		await client?.close().catch(() => {});
	}

	async #connected(): Promise<Client> {
		if (this.config.error)
			throw new UpstreamError(`upstream '${this.config.name}' is misconfigured: ${this.config.error}`, "misconfigured");
		if (this.#client) return this.#client;
		this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
		return this.#connecting;
	}

	async #open(): Promise<Client> {
		this.#setStatus({ state: "connecting" });
		const attempt = async (kind: "streamable-http" | "sse") => {
			const client = new Client(
				{ name: SERVER_INFO.name, version: SERVER_INFO.version },
				{
					// Workers forbid code generation: the SDK's default validator (Ajv) compiles schemas to code.
					jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
					listChanged: {
						tools: {
							onChanged: (error, tools) => {
								if (error || !tools) return;
								this.#listedAt = Date.now();
								this.#setTools(tools);
							},
						},
					},
				},
			);
			const transport = this.#transport(kind);
			this.#status.connections_opened++;
			await client.connect(transport, { timeout: this.config.timeoutMs });
			return client;
		};
		let client: Client;
		try {
			try {
				client = await attempt("streamable-http");
				this.#status.transport = "streamable-http";
			} catch (first) {
				// A server that predates Streamable HTTP answers its POST with 4xx: try the legacy SSE transport.
				if (!isHttpClientError(first)) throw first;
				client = await attempt("sse");
				this.#status.transport = "sse";
			}
			client.onclose = () => {
				if (this.#client === client) this.#drop(client, `upstream '${this.config.name}' closed the connection`);
			};
			await this.#list(client);
		} catch (error) {
			const failure = error instanceof UpstreamError ? error : this.#describe(error, "connecting");
			this.#setStatus({ state: "error", last_error: failure.message });
			throw failure;
		}
		this.#client = client;
		this.#setStatus({ state: "connected", last_error: undefined });
		return client;
	}

	#transport(kind: "streamable-http" | "sse"): Transport {
		const url = new URL(this.config.url);
		// Only this upstream's own headers: never the caller's token or the Stage0 key (the transport starts from nothing).
		const requestInit: RequestInit = { headers: { ...this.config.headers } };
		if (kind === "sse") return new SSEClientTransport(url, { requestInit, fetch: limitedFetch });
		return new StreamableHTTPClientTransport(url, { requestInit, fetch: limitedFetch });
	}

	async #list(client: Client): Promise<void> {
		const tools: UpstreamTool[] = [];
		let cursor: string | undefined;
		do {
			const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.config.timeoutMs });
			tools.push(...page.tools);
			cursor = page.nextCursor;
		} while (cursor && tools.length < 10_000);
		this.#listedAt = Date.now();
		this.#setTools(tools);
	}

	#setTools(tools: UpstreamTool[]): void {
		this.#tools = tools;
		this.#setStatus({ tools: tools.length });
		this.hooks.onTools(tools);
	}

	#drop(client: Client, reason: string): void {
		if (this.#client === client) this.#client = undefined;
		this.#setStatus({ state: "error", last_error: this.hooks.scrub(reason) });
		client.close().catch(() => {});
	}

	#setStatus(change: Partial<UpstreamStatus>): void {
		this.#status = { ...this.#status, ...change, checked_at: new Date().toISOString() };
		if (change.last_error === undefined && "last_error" in change) delete this.#status.last_error;
		this.hooks.onStatus?.(this.status());
	}

	#describe(error: unknown, doing: string): UpstreamError {
		const name = this.config.name;
		const raw = this.hooks.scrub(error instanceof Error ? error.message : String(error)).slice(0, 300);
		if (error instanceof UpstreamError) return error;
		if (error instanceof McpError) {
			if (error.code === ErrorCode.RequestTimeout) {
				return new UpstreamError(`upstream '${name}' did not answer within ${this.config.timeoutMs} ms (${doing})`, "timeout");
			}
			if (error.code === ErrorCode.ConnectionClosed)
				return new UpstreamError(`upstream '${name}' closed the connection (${doing})`, "unreachable");
			return new UpstreamError(`upstream '${name}' answered with an error (${doing}): ${raw}`, "protocol");
		}
		if (/larger than|too large/i.test(raw))
			return new UpstreamError(`upstream '${name}' answered more than ${MAX_UPSTREAM_RESPONSE_BYTES} bytes`, "too-large");
		if (error instanceof SyntaxError || /JSON|parse|Unexpected content type|Invalid|zod/i.test(raw)) {
			return new UpstreamError(`upstream '${name}' did not answer in MCP (${doing}): ${raw}`, "protocol");
		}
		return new UpstreamError(`upstream '${name}' is unreachable (${doing}): ${raw}`, "unreachable");
	}
}

function isHttpClientError(error: unknown): boolean {
	const code = (error as { code?: unknown })?.code;
	return typeof code === "number" && code >= 400 && code < 500;
}

/**
 * fetch with a size limit on every answer to a POST (each carries one MCP
 * response). The long-lived GET stream of notifications is not limited as a
 * whole; what it carries to a call is checked when the call returns.
 */
const limitedFetch: typeof fetch = async (input, init) => {
	const response = await fetch(input, init);
	if ((init?.method ?? "GET").toUpperCase() !== "POST" || !response.body) return response;
	const declared = Number(response.headers.get("content-length") ?? "0");
	if (declared > MAX_UPSTREAM_RESPONSE_BYTES) {
		await response.body.cancel().catch(() => {});
		throw new Error(`answer larger than ${MAX_UPSTREAM_RESPONSE_BYTES} bytes`);
	}
	let seen = 0;
	const counted = response.body.pipeThrough(
		new TransformStream<Uint8Array, Uint8Array>({
			transform(chunk, controller) {
				seen += chunk.byteLength;
				if (seen > MAX_UPSTREAM_RESPONSE_BYTES) controller.error(new Error(`answer larger than ${MAX_UPSTREAM_RESPONSE_BYTES} bytes`));
				else controller.enqueue(chunk);
			},
		}),
	);
	return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
};
