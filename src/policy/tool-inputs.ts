/**
 * The input schemas (JSON Schema, as tools/list shows them) of the built-in
 * tools: what the policy's `Arguments` type is generated from. Upstream tools
 * add their own listed inputSchema.
 */
import { z } from "zod";
import { TOOLS } from "../tools/definitions";
import type { JsonSchema } from "./arguments";

export function inputSchemaOf(input: z.ZodRawShape): JsonSchema {
	return z.toJSONSchema(z.object(input), { unrepresentable: "any" }) as JsonSchema;
}

export const BUILTIN_ARGUMENT_SCHEMAS: readonly JsonSchema[] = TOOLS.map((tool) => inputSchemaOf(tool.input));
