/**
 * An upstream's tools as guarded tools: named `<upstream>.<tool>`, described
 * to the authority from their own name, title, arguments and annotations,
 * forwarded only by the pipeline, and rendered as the upstream's own result
 * plus the guard's decision in `_meta.guard`.
 */
import { redactSecrets } from "../guard/audit";
import type { GuardReport, ToolAnnotations } from "../guard/pipeline";
import type { JsonSchemaObject } from "../tools/json-schema";
import type { JsonSchemaToolDefinition } from "../tools/register";
import { renderReport } from "../tools/result";
import type { UpstreamTool } from "./upstream";

/** MCP tool names: what every client accepts. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const GOAL_ARGUMENTS_CHARS = 1000;

/**
 * What a tool's annotations say it does, as side effects. An absent hint is
 * read as MCP's own default (not read-only, destructive, open-world), so a
 * tool without annotations is treated as having every side effect: unknown is
 * never read-only.
 */
export function sideEffectsOf(annotations: ToolAnnotations | undefined): string[] {
	if (annotations?.readOnlyHint === true) return [];
	const effects = ["write"];
	if (annotations?.destructiveHint !== false) effects.push("destructive");
	if (annotations?.openWorldHint !== false) effects.push("external");
	return effects;
}

function hints(annotations: UpstreamTool["annotations"]): ToolAnnotations | undefined {
	if (!annotations) return undefined;
	const out: ToolAnnotations = {};
	for (const key of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
		if (typeof annotations[key] === "boolean") out[key] = annotations[key];
	}
	return out;
}

export interface ForwardTarget {
	upstream: string;
	forward(tool: string, args: Record<string, unknown>, options: { retrySafe: boolean }): Promise<unknown>;
}

/** The guarded definition of one upstream tool, or undefined for a name no client could call. */
export function upstreamToolDefinition(target: ForwardTarget, tool: UpstreamTool): JsonSchemaToolDefinition | undefined {
	const name = `${target.upstream}.${tool.name}`;
	if (!TOOL_NAME.test(name)) return undefined;
	const annotations = hints(tool.annotations);
	const sideEffects = sideEffectsOf(annotations);
	const title = tool.title ?? tool.annotations?.title;
	const hasOutputSchema = tool.outputSchema !== undefined;
	return {
		name,
		server: target.upstream,
		annotations,
		title,
		description: tool.description,
		inputJsonSchema: tool.inputSchema as JsonSchemaObject,
		outputJsonSchema: tool.outputSchema as JsonSchemaObject | undefined,
		kind: "action",
		sideEffects,
		intent: (args) => {
			const shown = JSON.stringify(redactSecrets(args));
			const summary = shown.length > GOAL_ARGUMENTS_CHARS ? `${shown.slice(0, GOAL_ARGUMENTS_CHARS)}…` : shown;
			return {
				goal: `Call the tool "${title ?? tool.name}" (${tool.name}) of the upstream MCP server "${target.upstream}" with arguments ${summary}`,
				success_criteria: [`The upstream "${target.upstream}" runs ${tool.name} as requested and returns its result`],
				constraints: sideEffects.length === 0 ? ["read_only"] : [],
				// args_sha256 is added by the pipeline, from the same canonical arguments approvals and the audit trail use.
				context: { upstream: target.upstream, tool: tool.name },
			};
		},
		// Only a call the upstream says is read-only or idempotent may be sent twice.
		run: (args) =>
			target.forward(tool.name, args, { retrySafe: annotations?.readOnlyHint === true || annotations?.idempotentHint === true }),
		render: (report) => renderForwarded(name, hasOutputSchema, report),
	};
}

/**
 * An executed call is the upstream's own result, unchanged, plus the guard's
 * decision; anything else reads like a built-in tool's refusal (text, verdict,
 * approval offer). A tool with an output schema gets its refusal without
 * structuredContent, which would not match that schema; the decision is in
 * `_meta.guard` either way.
 */
export function renderForwarded(name: string, hasOutputSchema: boolean, report: GuardReport<unknown>): Record<string, unknown> {
	const { decision, action } = report;
	const guard: Record<string, unknown> = {
		verdict: decision.verdict,
		decision: decision.decision,
		reason: decision.reason,
		request_id: decision.request_id,
		policy_version: decision.policy_version,
		source: decision.source,
		executed: action.status === "executed",
	};
	if (report.would_block !== undefined) Object.assign(guard, { mode: "shadow", would_block: report.would_block });
	if (report.approval) guard.approval = report.approval;
	if (action.status === "executed") {
		const result = action.output as Record<string, unknown>;
		// The guard's key is written last: an upstream cannot forge it.
		return { ...result, _meta: { ...(result._meta as Record<string, unknown> | undefined), guard } };
	}
	const rendered: Record<string, unknown> = renderReport(name, "action", report as GuardReport<Record<string, unknown>>);
	if (report.would_block !== undefined) {
		const text = rendered.content as { type: "text"; text: string }[];
		text[0] = {
			type: "text",
			text: `${text[0].text}\nShadow mode: enforce mode would ${report.would_block ? "have blocked" : "have allowed"} this call.`,
		};
		(rendered.structuredContent as Record<string, unknown>).would_block = report.would_block;
	}
	if (hasOutputSchema) delete rendered.structuredContent;
	if (action.status === "failed") guard.error = action.error;
	return { ...rendered, _meta: { guard } };
}
