/**
 * The public shape of a guarded tool written with zod, and `defineTool`, which
 * keeps a definition's argument types tied to its own schema. The built-in
 * tools (definitions.ts) and a library user's tools are written with this.
 */
import type { z } from "zod";
import type { GuardedTool, ToolAnnotations } from "../guard/pipeline";

/** A tool of one's own states every hint: an absent one would be read as the unsafe value. */
export type Annotations = Required<ToolAnnotations>;

export interface ToolDefinition<
	Shape extends z.ZodRawShape = z.ZodRawShape,
	Output extends Record<string, unknown> = Record<string, unknown>,
> extends GuardedTool<z.infer<z.ZodObject<Shape>>, Output> {
	title: string;
	description: string;
	/** The arguments, as a zod shape (McpServer lists it as JSON Schema and validates every call against it). */
	input: Shape;
	annotations: Annotations;
	/** One line for the text block of an executed call. */
	summarize?: (output: Output) => string;
}

/** Keeps each definition's argument and output types tied to its own schema and action; the result goes to `guardTools`. */
export function defineTool<Shape extends z.ZodRawShape, Output extends Record<string, unknown> = Record<string, unknown>>(
	definition: ToolDefinition<Shape, Output>,
): ToolDefinition {
	return definition as unknown as ToolDefinition;
}
