/**
 * Tools whose arguments are described by a JSON Schema rather than zod (an
 * upstream MCP server's tools): the schema is listed as it is and arguments
 * are validated against it, through the same McpServer registration as every
 * other tool.
 *
 * McpServer lists a zod schema's JSON Schema, merged with the schema's zod
 * metadata; a loose object carrying the upstream schema as its metadata is
 * therefore listed as the upstream schema itself, and its refinement
 * validates with the SDK's Workers-compatible validator (@cfworker/json-schema:
 * no code generation, which Workers forbid).
 */
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { z } from "zod";

export type JsonSchemaObject = { type: "object"; [key: string]: unknown };

/** Draft 2020-12 unless the schema says draft-07 or draft-04 (both still common among MCP servers). */
function validatorFor(schema: JsonSchemaObject) {
	const declared = typeof schema.$schema === "string" ? schema.$schema : "";
	const draft = declared.includes("draft-07") ? "7" : declared.includes("draft-04") ? "4" : "2020-12";
	const { $schema: _ignored, ...rest } = schema;
	return new CfWorkerJsonSchemaValidator({ shortcircuit: false, draft }).getValidator(rest as never);
}

/**
 * A zod schema listed as `listed` and validating against `validating` (the
 * same schema, minus what the guard adds to it, such as approvalId).
 */
export function jsonSchemaArguments(listed: JsonSchemaObject, validating: JsonSchemaObject, strip: readonly string[] = []) {
	const validate = validatorFor(validating);
	return z
		.looseObject({})
		.superRefine((value, ctx) => {
			const checked = strip.length ? Object.fromEntries(Object.entries(value).filter(([k]) => !strip.includes(k))) : value;
			const result = validate(checked);
			if (!result.valid) ctx.addIssue({ code: "custom", message: result.errorMessage ?? "does not match the tool's input schema" });
		})
		.meta({ additionalProperties: undefined, ...listed });
}

/** A zod schema that is listed as the given JSON Schema and accepts any object (the output is validated where it is received). */
export function jsonSchemaListedAs(listed: JsonSchemaObject) {
	return z.looseObject({}).meta({ additionalProperties: undefined, ...listed });
}
