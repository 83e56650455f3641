/**
 * Registers guarded tools on an MCP server: one handler for all of them, so
 * the check-then-run pipeline cannot be skipped or copied wrongly per tool.
 *
 * The one registration path for every kind of tool: the built-in tools
 * (arguments described with zod) and an upstream server's tools (arguments
 * described with the upstream's JSON Schema, listed as it is and validated
 * against it; see json-schema.ts).
 *
 * `guardTools` is the public entry (src/lib.ts): it registers tools and, once
 * per server, gates tools/list and tools/call. Every call runs with the caller
 * of ITS message (the guard resolves it, see agent/guard-session.ts), never
 * with the role the session started with; the gate makes tools/list and
 * tools/call follow that role too, and records calls refused before any tool runs.
 */
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { argumentsHash } from "../guard/approvals";
import type { AuditEntry } from "../guard/audit";
import {
	type GuardDeps,
	type GuardedTool,
	type GuardReport,
	guardedCall,
	localPolicyVersion,
	type ToolAnnotations,
} from "../guard/pipeline";
import { isListed } from "../guard/local-policy";
import { ok } from "../guard/result";
import { recordToolInputSchemas } from "../policy/tool-inputs";
import type { ToolDefinition } from "./define";
import { type JsonSchemaObject, jsonSchemaArguments, jsonSchemaListedAs } from "./json-schema";
import { renderReport, type ToolResult } from "./result";
import { approvalIdArgument, decisionOutputShape } from "./schema";

/** What the MCP SDK hands to a request handler besides the request: who sent the message, over which request. */
export interface MessageExtra {
	requestInfo?: { headers?: Record<string, string | string[] | undefined> };
	authInfo?: { token: string; clientId: string; scopes: string[]; extra?: Record<string, unknown> };
	sessionId?: string;
}

/** The pipeline's dependencies for the caller of one message, or undefined when this session may not serve it. */
export type DepsForMessage = (extra: MessageExtra) => GuardDeps | undefined;

/** What guardTools needs from a guard (see guardFor): the dependencies of each message's call. */
export interface ToolGuard {
	depsFor: DepsForMessage;
}

type Extra = MessageExtra;

const NO_CALLER = "This session has no authenticated caller for this request: open a new session.";

/** The deps for the caller of this message; throws (nothing runs) when there are none. */
export function depsForMessage(extra: Extra, depsFor: DepsForMessage): GuardDeps {
	const deps = depsFor(extra);
	if (!deps) throw new McpError(ErrorCode.InvalidRequest, NO_CALLER);
	return deps;
}

/** A tool described by JSON Schemas (e.g. re-exposed from an upstream MCP server). */
export interface JsonSchemaToolDefinition extends GuardedTool<Record<string, unknown>, unknown> {
	title?: string;
	description?: string;
	inputJsonSchema: JsonSchemaObject;
	outputJsonSchema?: JsonSchemaObject;
	annotations?: ToolAnnotations & { title?: string };
	/** How a report is shown to the client. */
	render(report: GuardReport<unknown>): ToolResult | Record<string, unknown>;
}

export type RegisterableTool = ToolDefinition | JsonSchemaToolDefinition;

/** The JSON Schema of the approvalId argument every action tool accepts. */
const APPROVAL_ID_JSON_SCHEMA = {
	type: "string",
	format: "uuid",
	description: "The id of an approval granted by a person for this exact call (same tool and arguments)",
};

/**
 * Registers tools whose every call goes through the pipeline with the deps of
 * the caller of that call. `shadow` (gateway tools in GUARD_MODE=shadow) runs
 * the call whatever the verdict, and records what enforce mode would have done.
 */
function registerGuardedTools(
	server: McpServer,
	tools: readonly RegisterableTool[],
	depsFor: DepsForMessage,
	options: { shadow?: boolean } = {},
): Map<string, RegisteredTool> {
	const registered = new Map<string, RegisteredTool>();
	for (const tool of tools) {
		const handler = async (args: Record<string, unknown>, extra: Extra) => {
			const deps = depsForMessage(extra, depsFor);
			const report = await guardedCall(
				tool as GuardedTool<Record<string, unknown>, unknown>,
				args,
				options.shadow ? { ...deps, shadow: true } : deps,
			);
			if ("inputJsonSchema" in tool) return tool.render(report) as ToolResult;
			return renderReport(tool.name, tool.kind, report as GuardReport<Record<string, unknown>>, tool.summarize);
		};
		// Both listings are accepted by McpServer (a raw zod shape or a zod object); its overloads cannot express the union.
		registered.set(
			tool.name,
			server.registerTool(
				tool.name,
				listing(tool) as Parameters<McpServer["registerTool"]>[1],
				handler as Parameters<McpServer["registerTool"]>[2],
			),
		);
	}
	return registered;
}

/** The guard and the guarded tools of each server (its tools/list and tools/call are gated once). */
const gated = new WeakMap<McpServer, { guard: ToolGuard; tools: Map<string, RegisterableTool> }>();

/**
 * Registers tools on an MCP server so that every call of each goes through the
 * guard's check-then-run pipeline, and (on the first call for this server)
 * makes tools/list and tools/call follow each caller's role. Call it as often
 * as needed (tools may come later, as an upstream's do), always with the same
 * guard for one server. Returns the SDK's handle of each tool, by name.
 */
export function guardTools(
	server: McpServer,
	tools: readonly RegisterableTool[],
	guard: ToolGuard,
	options: { shadow?: boolean } = {},
): Map<string, RegisteredTool> {
	let gate = gated.get(server);
	if (gate && gate.guard !== guard)
		throw new Error("guardTools: this server is already guarded by another guard; use one guardFor(...) per server");
	// The local policy may read these tools' arguments (an upstream's JSON Schema tools are recorded by the gateway).
	recordToolInputSchemas(tools.flatMap((tool) => ("inputJsonSchema" in tool ? [] : [tool.input])));
	const registered = registerGuardedTools(server, tools, guard.depsFor, options);
	if (!gate) {
		gate = { guard, tools: new Map() };
		gated.set(server, gate);
		const known = gate.tools;
		gateToolRequests(server, {
			hiddenFrom: (deps, name) => {
				const tool = known.get(name);
				return tool !== undefined && !isListed(deps.policy, deps.runtime, tool);
			},
			depsFor: guard.depsFor,
		});
	}
	for (const tool of tools) gate.tools.set(tool.name, tool);
	return registered;
}

function listing(tool: RegisterableTool) {
	if (!("inputJsonSchema" in tool)) {
		return {
			title: tool.title,
			description: tool.description,
			// Action tools accept the id of an approval granted by a person.
			inputSchema: tool.kind === "action" ? { ...tool.input, approvalId: approvalIdArgument } : tool.input,
			outputSchema: decisionOutputShape,
			annotations: { title: tool.title, ...tool.annotations },
		};
	}
	const schema = tool.inputJsonSchema;
	const properties = (schema.properties ?? {}) as Record<string, unknown>;
	// The guard adds approvalId (unless the tool has an argument of that name: then approvals are not offered for it).
	const withApproval = tool.kind === "action" && !("approvalId" in properties);
	const listed = withApproval ? { ...schema, properties: { ...properties, approvalId: APPROVAL_ID_JSON_SCHEMA } } : schema;
	return {
		title: tool.title,
		description: tool.description,
		inputSchema: jsonSchemaArguments(listed, schema, withApproval ? ["approvalId"] : []),
		...(tool.outputJsonSchema ? { outputSchema: jsonSchemaListedAs(tool.outputJsonSchema) } : {}),
		...(tool.annotations ? { annotations: tool.annotations } : {}),
	};
}

type RawHandler = (request: { method: string; params?: Record<string, unknown> }, extra: Extra) => Promise<unknown>;
type TextResult = { content?: { type: string; text?: string }[]; isError?: boolean };

/**
 * Wraps the server's tools/list and tools/call handlers, once per server (by
 * guardTools). The MCP SDK has no per-request hook for either, so the handlers
 * it installs are taken from its handler table and wrapped (they read the
 * registered tools on each request, so tools registered later are served too):
 *   - tools/list shows only the tools the caller's role could ever run;
 *   - tools/call refuses a tool hidden from the role exactly like an unknown one;
 *   - a call refused before any tool runs (unknown or hidden tool, arguments
 *     that fail the tool's schema) counts against the rate limit and is
 *     recorded in the audit trail with `source: "protocol"`.
 */
function gateToolRequests(server: McpServer, gate: { hiddenFrom(deps: GuardDeps, tool: string): boolean; depsFor: DepsForMessage }): void {
	// Installs the SDK's own tools/list and tools/call handlers now (idempotent), even before the first tool.
	(server as unknown as { setToolRequestHandlers(): void }).setToolRequestHandlers();
	const handlers = (server.server as unknown as { _requestHandlers: Map<string, RawHandler> })._requestHandlers;
	const registered = (server as unknown as { _registeredTools: Record<string, { enabled: boolean }> })._registeredTools;
	const listTools = handlers.get("tools/list");
	const callTool = handlers.get("tools/call");
	if (!listTools || !callTool || !registered) throw new Error("guardTools: this version of the MCP SDK has no tool handlers to gate");

	handlers.set("tools/list", async (request, extra) => {
		const deps = depsForMessage(extra, gate.depsFor);
		const result = (await listTools(request, extra)) as { tools: { name: string }[] };
		return { ...result, tools: result.tools.filter((tool) => !gate.hiddenFrom(deps, tool.name)) };
	});

	handlers.set("tools/call", async (request, extra) => {
		const deps = depsForMessage(extra, gate.depsFor);
		const name = request.params?.name;
		const args = request.params?.arguments;
		if (typeof name !== "string") return callTool(request, extra); // the SDK answers a malformed call
		if (!Object.hasOwn(registered, name) || !registered[name].enabled || gate.hiddenFrom(deps, name)) {
			// The same answer for a hidden tool as for one that does not exist: the role's tools are not disclosed.
			return refusedBeforePipeline(deps, name, args, `MCP error -32602: Tool ${name.slice(0, 128)} not found`);
		}
		const result = (await callTool(request, extra)) as TextResult;
		const text = result.isError ? result.content?.[0]?.text : undefined;
		if (text?.startsWith(`MCP error ${ErrorCode.InvalidParams}: Input validation error`))
			return refusedBeforePipeline(deps, name, args, text);
		return result;
	});
}

/** Rate limited like any call, recorded, and answered as an error; nothing runs. */
async function refusedBeforePipeline(deps: GuardDeps, tool: string, args: unknown, message: string) {
	let text = message;
	try {
		const admission = deps.budget ? await deps.budget.admitCall() : ok(undefined);
		if (!admission.ok) {
			const { limit, retryAfterSeconds } = admission.error;
			text = `RATE_LIMITED: ${deps.runtime.principal} made ${limit} calls in the last minute (RATE_LIMIT_PER_MINUTE), refused ones included; retry after ${retryAfterSeconds} seconds.`;
		}
	} catch {
		text = "The rate limiter could not be reached, so the call was not allowed.";
	}
	const entry: AuditEntry = {
		at: Date.now(),
		request_id: crypto.randomUUID(),
		policy_version: localPolicyVersion(deps),
		local_policy: deps.policy.id,
		source: "protocol",
		principal: deps.runtime.principal,
		role: deps.runtime.role,
		session_id: deps.runtime.sessionId,
		tool: tool.slice(0, 128),
		args_sha256: argumentsHash(args !== null && typeof args === "object" && !Array.isArray(args) ? (args as Record<string, unknown>) : {}),
		verdict: "DENY",
		decision: "NO_GO",
		reason: text.slice(0, 1000),
		risk_score: null,
		latency_ms: 0,
		outcome: "not_run",
	};
	await deps.audit
		?.record(entry)
		.catch((error) =>
			console.error(`audit: a protocol refusal was not recorded: ${error instanceof Error ? error.message : String(error)}`),
		);
	return { content: [{ type: "text" as const, text }], isError: true };
}
