/**
 * Registers guarded tools on an MCP server: one handler for all of them, so
 * the check-then-run pipeline cannot be skipped or copied wrongly per tool.
 *
 * The one registration path for every kind of tool: the built-in tools
 * (arguments described with zod) and an upstream server's tools (arguments
 * described with the upstream's JSON Schema, listed as it is and validated
 * against it; see json-schema.ts).
 */
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type GuardDeps, type GuardedTool, type GuardOutcome, type ToolAnnotations, guardedCall } from "../guard/pipeline";
import type { ToolDefinition } from "./definitions";
import { type JsonSchemaObject, jsonSchemaArguments, jsonSchemaListedAs } from "./json-schema";
import { renderOutcome, type ToolResult } from "./result";
import { approvalIdArgument, decisionOutputShape } from "./schema";

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

export function registerGuardedTools(
	server: McpServer,
	tools: readonly RegisterableTool[],
	depsForCall: (tool: RegisterableTool) => GuardDeps,
): Map<string, RegisteredTool> {
	const registered = new Map<string, RegisteredTool>();
	for (const tool of tools) {
		const handler = async (args: Record<string, unknown>) => {
			const outcome = await guardedCall(tool as GuardedTool<Record<string, unknown>, unknown>, args, depsForCall(tool));
			if ("inputJsonSchema" in tool) return tool.render(outcome) as ToolResult;
			return renderOutcome(tool.name, tool.kind, outcome as GuardOutcome<Record<string, unknown>>, tool.summarize);
		};
		// Both listings are accepted by McpServer (a raw zod shape or a zod object); its overloads cannot express the union.
		registered.set(tool.name, server.registerTool(tool.name, listing(tool) as Parameters<McpServer["registerTool"]>[1], handler));
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
