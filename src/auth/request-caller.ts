/**
 * Hands the authenticated caller of ONE request from the Worker entry to the
 * session's Durable Object, so that every MCP message is handled with the
 * identity and role of the credential presented on that very request.
 *
 * McpAgent passes `ctx.props` to a session only when its Durable Object starts
 * (and stores them), so props would freeze the role of the first request. The
 * request's headers, on the other hand, reach the MCP SDK's handlers with every
 * message on both transports (`extra.requestInfo.headers`: the WebSocket upgrade
 * for /mcp, the POST for /sse/message). The Worker deletes any copy of this
 * header a client sent and sets its own; the Durable Object is reachable only
 * through the Worker.
 */
import { ROLES, type Role } from "../guard/enums";
import type { Caller } from "./tokens";

export const CALLER_HEADER = "x-edge-guard-caller";

/** What a session needs to know about the request that carried a message. */
export interface RequestCaller extends Caller {
	/** The base of approval links for this request ("" when unknown: the links are relative). */
	approvalsOrigin: string;
}

/** Returns the request's headers with exactly one caller header: ours. */
export function withCallerHeader(request: Request, caller: RequestCaller): Request {
	const headers = new Headers(request.headers);
	headers.delete(CALLER_HEADER);
	headers.set(CALLER_HEADER, encodeURIComponent(JSON.stringify(caller)));
	return new Request(request, { headers });
}

/** The caller of the message being handled, or undefined (then nothing may run). */
export function callerFromHeaders(headers: Record<string, string | string[] | undefined> | undefined): RequestCaller | undefined {
	const raw = headers?.[CALLER_HEADER];
	if (typeof raw !== "string") return undefined;
	try {
		const value = JSON.parse(decodeURIComponent(raw)) as Partial<RequestCaller>;
		if (typeof value.principal !== "string" || !value.principal) return undefined;
		if (typeof value.credential !== "string" || !value.credential) return undefined;
		if (!(ROLES as readonly string[]).includes(value.role as string)) return undefined;
		return {
			principal: value.principal,
			role: value.role as Role,
			credential: value.credential,
			approvalsOrigin: typeof value.approvalsOrigin === "string" ? value.approvalsOrigin : "",
		};
	} catch {
		return undefined;
	}
}

/** The caller of an MCP request, from the `extra` the MCP SDK hands to its handlers. */
export function callerOfMessage(
	extra: { requestInfo?: { headers?: Record<string, string | string[] | undefined> } } | undefined,
): RequestCaller | undefined {
	return callerFromHeaders(extra?.requestInfo?.headers);
}
