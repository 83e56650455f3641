/** Small HTTP helpers for the Worker entry: JSON errors, body limits, JSON-RPC bodies, CORS. */
import { isInitializeRequest, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import { readAtMost } from "./guard/bounded-read";

/** The largest request body accepted on the MCP endpoints. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A JSON error for people and programs: `{ error: code, message }`. */
export function jsonError(status: number, code: string, message: string, headers?: HeadersInit): Response {
	return Response.json({ error: code, message }, { status, headers });
}

export function jsonRpcError(status: number, code: number, message: string, headers?: HeadersInit): Response {
	return Response.json({ jsonrpc: "2.0", id: null, error: { code, message } }, { status, headers });
}

/** How deep a JSON-RPC body may nest: far beyond any tool's arguments, far below any stack limit. */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests arrays/objects deeper than `max` (iterative: deep input cannot overflow the stack). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
	const stack: [unknown, number][] = [[value, 1]];
	while (stack.length > 0) {
		const [node, depth] = stack.pop()!;
		if (node === null || typeof node !== "object") continue;
		if (depth > max) return true;
		for (const child of Array.isArray(node) ? node : Object.values(node)) {
			if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
		}
	}
	return false;
}

export type JsonRpcBody = { ok: true; text: string; messages: unknown[]; initializes: boolean } | { ok: false; response: Response };

/**
 * Checks an MCP POST body before anything crosses into a Durable Object:
 * valid JSON, nested at most MAX_JSON_DEPTH, a JSON-RPC message or a non-empty
 * batch of them (`single`: exactly one message, as legacy SSE requires).
 */
export function readJsonRpcBody(text: string, single: boolean): JsonRpcBody {
	const refuse = (code: number, message: string) => ({ ok: false as const, response: jsonRpcError(400, code, message) });
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		return refuse(-32700, "Parse error: the body is not valid JSON.");
	}
	if (nestedDeeperThan(body, MAX_JSON_DEPTH))
		return refuse(-32600, `Invalid Request: the message is nested deeper than ${MAX_JSON_DEPTH} levels.`);
	if (Array.isArray(body) && single) return refuse(-32600, "Invalid Request: this endpoint takes one JSON-RPC message, not a batch.");
	if (Array.isArray(body) && body.length === 0) return refuse(-32600, "Invalid Request: an empty batch.");
	const messages = Array.isArray(body) ? body : [body];
	if (!messages.every((m) => JSONRPCMessageSchema.safeParse(m).success)) {
		return refuse(-32600, "Invalid Request: not a JSON-RPC 2.0 message (jsonrpc, and a method or a result or an error).");
	}
	return { ok: true, text, messages, initializes: messages.some((m) => isInitializeRequest(m)) };
}

/**
 * Any error answer that is not JSON (the MCP library answers some with plain
 * text) becomes a JSON-RPC error with the same status and text.
 */
export async function jsonErrorBody(response: Response): Promise<Response> {
	if (response.status < 400 || response.headers.get("content-type")?.includes("application/json")) return response;
	const text = (await response.text()).slice(0, 500).trim() || response.statusText || "Request failed";
	const headers = new Headers(response.headers);
	headers.set("content-type", "application/json");
	headers.delete("content-length");
	return new Response(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: text } }), {
		status: response.status,
		headers,
	});
}

const CORS_ALLOW_HEADERS = "Content-Type, Accept, Authorization, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";

/**
 * The response with CORS headers for `allowedOrigin` only (never `*`), and
 * none at all when the request came from no page or from the server's own.
 */
export function withCors(response: Response, allowedOrigin: string | undefined): Response {
	if (response.webSocket) return response;
	const out = new Response(response.body, response);
	// A copy of the names: deleting while iterating the live headers would skip some.
	for (const name of Array.from(out.headers.keys())) if (name.startsWith("access-control-")) out.headers.delete(name);
	if (allowedOrigin) {
		out.headers.set("access-control-allow-origin", allowedOrigin);
		out.headers.set("access-control-expose-headers", "Mcp-Session-Id, WWW-Authenticate, Retry-After");
		out.headers.append("vary", "Origin");
	}
	return out;
}

/** The answer to a preflight from an allowed page. */
export function preflight(allowedOrigin: string): Response {
	return new Response(null, {
		status: 204,
		headers: {
			"access-control-allow-origin": allowedOrigin,
			"access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
			"access-control-allow-headers": CORS_ALLOW_HEADERS,
			"access-control-max-age": "600",
			vary: "Origin",
		},
	});
}

/**
 * Returns the request with its body known to be at most `max` bytes, or null.
 * A declared Content-Length is trusted (the runtime enforces it); a body
 * without one is read up to the limit and no further.
 */
export async function limitBody(request: Request, max: number): Promise<Request | null> {
	if (!request.body) return request;
	const declared = request.headers.get("content-length");
	if (declared !== null) return Number(declared) > max ? null : request;

	const body = await readAtMost(request.body, max);
	if (!body) return null;
	return new Request(request, { method: request.method, body });
}
