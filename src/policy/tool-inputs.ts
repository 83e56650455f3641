/**
 * The input schemas (JSON Schema, as tools/list shows them) the policy's
 * `Arguments` type is generated from: the built-in tools', and those of the
 * upstream tools this isolate has seen listed (src/gateway/ records them), or
 * that a saved tools/list names (npm run policy:check -- --tools FILE).
 */
import { z } from "zod";
import { TOOLS } from "../tools/definitions";
import type { JsonSchema } from "./arguments";

export function inputSchemaOf(input: z.ZodRawShape): JsonSchema {
	return z.toJSONSchema(z.object(input), { unrepresentable: "any" }) as JsonSchema;
}

export const BUILTIN_ARGUMENT_SCHEMAS: readonly JsonSchema[] = TOOLS.map((tool) => inputSchemaOf(tool.input));

/** Each upstream's tools' input schemas, as last listed in this isolate; `version` changes with any of them. */
const upstreamInputs = new Map<string, { fingerprint: string; schemas: readonly JsonSchema[] }>();
let upstreamVersion = 0;
let upstreamAll: readonly JsonSchema[] = [];

/** Records what an upstream's tools/list says its tools take (called on every list; a change reloads the policy). */
export function recordUpstreamInputSchemas(upstream: string, tools: readonly { inputSchema?: unknown }[]): void {
	const schemas = tools.map((t) => t.inputSchema).filter((s): s is JsonSchema => !!s && typeof s === "object" && !Array.isArray(s));
	const fingerprint = JSON.stringify(schemas);
	if (upstreamInputs.get(upstream)?.fingerprint === fingerprint) return;
	upstreamInputs.set(upstream, { fingerprint, schemas });
	upstreamVersion++;
	upstreamAll = [...upstreamInputs.keys()].sort().flatMap((name) => upstreamInputs.get(name)!.schemas);
}

/** The upstream tools' input schemas seen so far in this isolate, and a number that changes when they do. */
export function upstreamInputSchemas(): { version: number; schemas: readonly JsonSchema[] } {
	return { version: upstreamVersion, schemas: upstreamAll };
}

/**
 * The input schemas of a saved tools/list answer: the JSON-RPC response (`{"result": {"tools": […]}}`, as
 * cedar-for-agents' schema generator takes it), its result (`{"tools": […]}`) or the array of tools.
 */
export function inputSchemasOfToolList(json: unknown): JsonSchema[] {
	const result = (json as { result?: unknown } | null)?.result ?? json;
	const tools = Array.isArray(result) ? result : (result as { tools?: unknown } | null)?.tools;
	if (!Array.isArray(tools)) throw new Error('expected a tools/list answer: {"result": {"tools": [...]}}, {"tools": [...]} or [...]');
	return tools.map((tool, index) => {
		const schema = (tool as { inputSchema?: unknown } | null)?.inputSchema;
		if (!schema || typeof schema !== "object" || Array.isArray(schema)) throw new Error(`tool ${index + 1} has no inputSchema object`);
		return schema as JsonSchema;
	});
}
