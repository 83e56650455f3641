/**
 * Registers guarded tools on an MCP server: one handler for all of them, so
 * the check-then-run pipeline cannot be skipped or copied wrongly per tool.
 *
 * The one registration path for every kind of tool: the built-in tools
 * (arguments described with zod) and an upstream server's tools (arguments
 * described with the upstream's JSON Schema, listed as it is and validated
 * against it; see json-schema.ts).
 *
 * Every call runs with the caller of ITS request (the role of the credential
 * presented on that request, see auth/request-caller.ts), never with the role
 * the session started with. `gateToolRequests` makes tools/list and tools/call
 * follow that role too, and records calls refused before any tool runs.
 */
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { callerOfMessage, type RequestCaller } from "../auth/request-caller";
import { argumentsHash } from "../guard/approvals";
import type { AuditEntry } from "../guard/audit";
import {
	type GuardDeps,
	type GuardedTool,
	type GuardOutcome,
	guardedCall,
	localPolicyVersion,
	type ToolAnnotations,
} from "../guard/pipeline";
import type { ToolDefinition } from "./definitions";
import { type JsonSchemaObject, jsonSchemaArguments, jsonSchemaListedAs } from "./json-schema";
import { renderOutcome, type ToolResult } from "./result";
import { approvalIdArgument, decisionOutputShape } from "./schema";

/** The pipeline's dependencies for one caller, or undefined when this session may not serve it. */
export type DepsForCaller = (caller: RequestCaller) => GuardDeps | undefined;

type Extra = Parameters<typeof callerOfMessage>[0];

const NO_CALLER = "This session has no authenticated caller for this request: open a new session.";

/** The deps for the caller of this message; throws (nothing runs) when there are none. */
export function depsForMessage(extra: Extra, depsFor: DepsForCaller): GuardDeps {
	const caller = callerOfMessage(extra);
	const deps = caller && depsFor(caller);
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
	/** How an outcome is shown to the client. */
	render(outcome: GuardOutcome<unknown>): ToolResult | Record<string, unknown>;
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
export function registerGuardedTools(
	server: McpServer,
	tools: readonly RegisterableTool[],
	depsFor: DepsForCaller,
	options: { shadow?: boolean } = {},
): Map<string, RegisteredTool> {
	const registered = new Map<string, RegisteredTool>();
	for (const tool of tools) {
		const handler = async (args: Record<string, unknown>, extra: Extra) => {
			const deps = depsForMessage(extra, depsFor);
			const outcome = await guardedCall(
				tool as GuardedTool<Record<string, unknown>, unknown>,
				args,
				options.shadow ? { ...deps, shadow: true } : deps,
			);
			if ("inputJsonSchema" in tool) return tool.render(outcome) as ToolResult;
			return renderOutcome(tool.name, tool.kind, outcome as GuardOutcome<Record<string, unknown>>, tool.summarize);
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
 * Wraps the server's tools/list and tools/call handlers; call it once, after
 * every tool is registered. The MCP SDK has no per-request hook for either, so
 * the handlers it installed are taken from its handler table and wrapped:
 *   - tools/list shows only the tools the caller's role could ever run;
 *   - tools/call refuses a tool hidden from the role exactly like an unknown one;
 *   - a call refused before any tool runs (unknown or hidden tool, arguments
 *     that fail the tool's schema) counts against the rate limit and is
 *     recorded in the audit trail with `source: "protocol"`.
 */
export function gateToolRequests(
	server: McpServer,
	gate: { hiddenFrom(caller: GuardDeps["runtime"], tool: string): boolean; depsFor: DepsForCaller },
): void {
	const handlers = (server.server as unknown as { _requestHandlers: Map<string, RawHandler> })._requestHandlers;
	const registered = (server as unknown as { _registeredTools: Record<string, { enabled: boolean }> })._registeredTools;
	const listTools = handlers.get("tools/list");
	const callTool = handlers.get("tools/call");
	if (!listTools || !callTool || !registered) throw new Error("gateToolRequests: register the tools first");

	handlers.set("tools/list", async (request, extra) => {
		const deps = depsForMessage(extra, gate.depsFor);
		const result = (await listTools(request, extra)) as { tools: { name: string }[] };
		return { ...result, tools: result.tools.filter((tool) => !gate.hiddenFrom(deps.runtime, tool.name)) };
	});

	handlers.set("tools/call", async (request, extra) => {
		const deps = depsForMessage(extra, gate.depsFor);
		const name = request.params?.name;
		const args = request.params?.arguments;
		if (typeof name !== "string") return callTool(request, extra); // the SDK answers a malformed call
		if (!Object.hasOwn(registered, name) || !registered[name].enabled || gate.hiddenFrom(deps.runtime, name)) {
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
		const admission = deps.budget ? await deps.budget.admitCall() : { ok: true as const };
		if (!admission.ok) {
			text = `RATE_LIMITED: ${deps.runtime.principal} made ${admission.limit} calls in the last minute (RATE_LIMIT_PER_MINUTE), refused ones included; retry after ${admission.retryAfterSeconds} seconds.`;
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
