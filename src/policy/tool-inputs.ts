/**
 * The input schemas (JSON Schema, as tools/list shows them) the policy's
 * `Arguments` type is generated from: the built-in tools', those of the
 * upstream tools this isolate has seen listed (src/gateway/ records them) and
 * of the tools a library user registered with guardTools in it
 * (src/tools/register.ts records them), or that a saved tools/list names
 * (npm run policy:check -- --tools FILE).
 */
import { z } from "zod";
import { TOOLS } from "../tools/definitions";
import type { JsonSchema } from "./arguments";

export function inputSchemaOf(input: z.ZodRawShape): JsonSchema {
	return z.toJSONSchema(z.object(input), { unrepresentable: "any" }) as JsonSchema;
}

export const BUILTIN_ARGUMENT_SCHEMAS: readonly JsonSchema[] = TOOLS.map((tool) => inputSchemaOf(tool.input));

/** Each upstream's tools' input schemas, as last listed in this isolate. */
const upstreamInputs = new Map<string, { fingerprint: string; schemas: readonly JsonSchema[] }>();
/** The input schemas of the library user's tools registered in this isolate, by fingerprint (tools are code: only added). */
const registeredInputs = new Map<string, JsonSchema>();
/** Inputs already seen (the built-in tools' from the start): registering them again converts nothing. */
const seenInputs = new WeakSet<z.ZodRawShape>(TOOLS.map((tool) => tool.input));
const BUILTIN_FINGERPRINTS = new Set(BUILTIN_ARGUMENT_SCHEMAS.map((schema) => JSON.stringify(schema)));
/** Changes with any of the recorded schemas (the policy is reloaded then: src/policy/workerd.ts). */
let recordedVersion = 0;
let recordedAll: readonly JsonSchema[] = [];

function recorded(): void {
	recordedVersion++;
	recordedAll = [...[...upstreamInputs.keys()].sort().flatMap((name) => upstreamInputs.get(name)!.schemas), ...registeredInputs.values()];
}

/** Records what an upstream's tools/list says its tools take (called on every list; a change reloads the policy). */
export function recordUpstreamInputSchemas(upstream: string, tools: readonly { inputSchema?: unknown }[]): void {
	const schemas = tools.map((t) => t.inputSchema).filter((s): s is JsonSchema => !!s && typeof s === "object" && !Array.isArray(s));
	const fingerprint = JSON.stringify(schemas);
	if (upstreamInputs.get(upstream)?.fingerprint === fingerprint) return;
	upstreamInputs.set(upstream, { fingerprint, schemas });
	recorded();
}

/**
 * Records what tools registered with guardTools take (their zod `input`), so that a policy may read their
 * arguments as it reads a built-in tool's. A new schema reloads the policy; the built-in tools' and those
 * already recorded change nothing.
 */
export function recordToolInputSchemas(inputs: readonly z.ZodRawShape[]): void {
	let added = false;
	for (const input of inputs) {
		if (seenInputs.has(input)) continue;
		seenInputs.add(input);
		const schema = inputSchemaOf(input);
		const fingerprint = JSON.stringify(schema);
		if (BUILTIN_FINGERPRINTS.has(fingerprint) || registeredInputs.has(fingerprint)) continue;
		registeredInputs.set(fingerprint, schema);
		added = true;
	}
	if (added) recorded();
}

/** The input schemas of the upstream and registered tools seen so far in this isolate, and a number that changes when they do. */
export function recordedInputSchemas(): { version: number; schemas: readonly JsonSchema[] } {
	return { version: recordedVersion, schemas: recordedAll };
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
