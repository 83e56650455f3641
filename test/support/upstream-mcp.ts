/**
 * An upstream MCP server for tests and the bench: the official SDK's McpServer
 * on loopback, over Streamable HTTP (/mcp, one session per client) and legacy
 * SSE (/sse + /messages). It counts calls per tool and sessions opened, and
 * records the headers of every request it receives.
 *
 * Tools: search (read-only), delete-record (destructive), touch (no
 * annotations), slow (read-only, waits), report (structuredContent with an
 * output schema), whoami (echoes the Authorization header it received),
 * garbage (listed, but its calls are answered with bytes that are not JSON-RPC).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface UpstreamMcp {
	/** The Streamable HTTP endpoint, e.g. http://127.0.0.1:1234/mcp */
	url: string;
	/** The legacy SSE endpoint. */
	sseUrl: string;
	calls: Record<string, number>;
	/** MCP sessions opened (initialize requests answered), over both transports. */
	sessionsOpened(): number;
	/** The headers of every HTTP request received, in order. */
	headers: Record<string, string | string[] | undefined>[];
	/** Adds a tool to every live session (each sends notifications/tools/list_changed). */
	addTool(name: string): void;
	/** Removes a tool without telling anyone (as a misbehaving or restarted server would). */
	removeToolSilently(name: string): void;
	close(): Promise<void>;
}

export interface UpstreamOptions {
	port?: number;
	/** Refuse Streamable HTTP (405), as a server that predates it. */
	sseOnly?: boolean;
}

export async function startUpstreamMcp(options: UpstreamOptions = {}): Promise<UpstreamMcp> {
	const calls: Record<string, number> = {};
	const headers: UpstreamMcp["headers"] = [];
	const servers = new Set<McpServer>();
	const extraTools = new Set<string>();
	const removed = new Set<string>();
	const streamable = new Map<string, StreamableHTTPServerTransport>();
	const sse = new Map<string, SSEServerTransport>();
	let sessions = 0;

	const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
	const text = (t: string) => ({ content: [{ type: "text" as const, text: t }] });

	function newServer(): McpServer {
		const server = new McpServer({ name: "test-upstream", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });
		server.registerTool(
			"search",
			{
				title: "Search records",
				description: "Find records matching a query.",
				inputSchema: { query: z.string().min(1) },
				annotations: { readOnlyHint: true, openWorldHint: false },
			},
			async ({ query }) => (count("search"), text(`found 3 records for ${query}`)),
		);
		server.registerTool(
			"delete-record",
			{
				description: "Delete a record for good.",
				inputSchema: { id: z.string() },
				annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
			},
			async ({ id }) => (count("delete-record"), text(`deleted ${id}`)),
		);
		server.registerTool(
			"touch",
			{ description: "Touch a record.", inputSchema: { id: z.string() } },
			async ({ id }) => (count("touch"), text(`touched ${id}`)),
		);
		server.registerTool(
			"slow",
			{ description: "Answers after ms milliseconds.", inputSchema: { ms: z.number().int().min(0) }, annotations: { readOnlyHint: true } },
			async ({ ms }) => {
				count("slow");
				await new Promise((r) => setTimeout(r, ms));
				return text(`waited ${ms} ms`);
			},
		);
		server.registerTool(
			"report",
			{
				description: "A report with structured content.",
				inputSchema: { topic: z.string() },
				outputSchema: { topic: z.string(), count: z.number(), items: z.array(z.string()) },
				annotations: { readOnlyHint: true, openWorldHint: false },
			},
			async ({ topic }) => {
				count("report");
				const structuredContent = { topic, count: 2, items: ["a", "b"] };
				return { ...text(JSON.stringify(structuredContent)), structuredContent };
			},
		);
		server.registerTool(
			"whoami",
			{
				description: "Echoes the Authorization header it received (as a careless server might).",
				inputSchema: {},
				annotations: { readOnlyHint: true },
			},
			async (_args, extra) => (count("whoami"), text(`you are ${String(extra.requestInfo?.headers?.authorization ?? "nobody")}`)),
		);
		server.registerTool(
			"garbage",
			{ description: "Its answers are not MCP.", inputSchema: {}, annotations: { readOnlyHint: true } },
			async () => text("unreachable: the HTTP layer answers instead"),
		);
		for (const name of extraTools) addTo(server, name);
		for (const name of removed) removeFrom(server, name);
		servers.add(server);
		return server;
	}

	function addTo(server: McpServer, name: string) {
		server.registerTool(
			name,
			{ description: `Added later: ${name}.`, inputSchema: {}, annotations: { readOnlyHint: true } },
			async () => (count(name), text(`${name} ran`)),
		);
	}
	function removeFrom(server: McpServer, name: string) {
		const registered = (server as unknown as { _registeredTools: Record<string, unknown> })._registeredTools;
		delete registered[name];
	}

	const readJson = (req: IncomingMessage) =>
		new Promise<unknown>((resolve) => {
			let raw = "";
			req.on("data", (d) => (raw += d));
			req.on("end", () => {
				try {
					resolve(raw ? JSON.parse(raw) : undefined);
				} catch {
					resolve(undefined);
				}
			});
		});

	const isCall = (body: unknown, tool: string) =>
		(Array.isArray(body) ? body : [body]).some((m) => m?.method === "tools/call" && m?.params?.name === tool);

	const http: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
		headers.push({ ...req.headers });
		const url = new URL(req.url ?? "/", "http://127.0.0.1");
		try {
			// Counters for a process that runs this server in another process (the bench).
			if (url.pathname === "/_stats") {
				return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ calls, sessions }));
			}
			if (url.pathname === "/mcp") {
				if (options.sseOnly) return void res.writeHead(405, { allow: "" }).end();
				const body = req.method === "POST" ? await readJson(req) : undefined;
				if (isCall(body, "garbage")) {
					count("garbage");
					return void res.writeHead(200, { "content-type": "application/json" }).end("<<this is not JSON-RPC>>");
				}
				const id = req.headers["mcp-session-id"];
				let transport = typeof id === "string" ? streamable.get(id) : undefined;
				if (!transport) {
					if (typeof id === "string")
						return void res
							.writeHead(404, { "content-type": "application/json" })
							.end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
					transport = new StreamableHTTPServerTransport({
						sessionIdGenerator: randomUUID,
						onsessioninitialized: (sid) => {
							sessions++;
							streamable.set(sid, transport!);
						},
					});
					const server = newServer();
					transport.onclose = () => {
						if (transport!.sessionId) streamable.delete(transport!.sessionId);
						servers.delete(server);
					};
					await server.connect(transport);
				}
				await transport.handleRequest(req, res, body);
				return;
			}
			if (url.pathname === "/sse" && req.method === "GET") {
				const transport = new SSEServerTransport("/messages", res);
				sse.set(transport.sessionId, transport);
				sessions++;
				const server = newServer();
				res.on("close", () => (sse.delete(transport.sessionId), servers.delete(server)));
				await server.connect(transport);
				return;
			}
			if (url.pathname === "/messages" && req.method === "POST") {
				const transport = sse.get(url.searchParams.get("sessionId") ?? "");
				if (!transport) return void res.writeHead(404).end("no such session");
				const body = await readJson(req);
				if (isCall(body, "garbage")) {
					count("garbage");
					res.writeHead(202).end("Accepted");
					return;
				}
				await transport.handlePostMessage(req, res, body);
				return;
			}
			res.writeHead(404).end();
		} catch (error) {
			if (!res.headersSent) res.writeHead(500).end(String(error));
		}
	});
	await new Promise<void>((resolve) => http.listen(options.port ?? 0, "127.0.0.1", resolve));
	const { port } = http.address() as AddressInfo;
	const origin = `http://127.0.0.1:${port}`;
	return {
		url: `${origin}/mcp`,
		sseUrl: `${origin}/sse`,
		calls,
		headers,
		sessionsOpened: () => sessions,
		addTool(name) {
			extraTools.add(name);
			for (const server of servers) addTo(server, name);
		},
		removeToolSilently(name) {
			removed.add(name);
			for (const server of servers) removeFrom(server, name);
		},
		close: async () => {
			for (const t of streamable.values()) await t.close().catch(() => {});
			for (const t of sse.values()) await t.close().catch(() => {});
			http.closeAllConnections();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		},
	};
}
