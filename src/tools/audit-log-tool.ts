/**
 * The `audit-log` tool: a caller reads its own recent decisions.
 *
 * It is not a guarded tool: it reads only the caller's own records from this
 * server, changes nothing, and asking Stage0 about it would spend quota and
 * fill the trail with reads of the trail. Records are shown without their
 * session ids: a session id is no credential here, but the caller has no use
 * for the ids of its other sessions.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { DecisionPostureSchema, DecisionSourceSchema, OutcomeSchema, VerdictSchema } from "../guard/enums";
import type { AuditQuery, AuditRecord } from "../state/audit-log";
import { shortName } from "./schema";

/** Reads the records of the caller of this message (`extra` identifies it); throws when there is none. */
export type AuditReader = (query: Omit<AuditQuery, "principal">, extra: unknown) => Promise<AuditRecord[]>;

const recordShape = z.looseObject({
	at: z.string(),
	request_id: z.string(),
	policy_version: z.string(),
	source: DecisionSourceSchema,
	tool: z.string(),
	verdict: VerdictSchema,
	decision: DecisionPostureSchema,
	reason: z.string(),
	outcome: OutcomeSchema,
});

export function registerAuditLogTool(server: McpServer, read: AuditReader): void {
	server.registerTool(
		"audit-log",
		{
			title: "My recent decisions",
			description:
				"Your own recent authorization decisions on this server, newest first: what was asked, the verdict, under which policy version, and whether the action ran.",
			inputSchema: {
				limit: z.number().int().min(1).max(50).optional().describe("How many records (default 10, at most 50)"),
				tool: shortName("Only decisions about this tool").optional(),
				verdict: VerdictSchema.optional().describe("Only decisions with this verdict"),
			},
			outputSchema: { records: z.array(recordShape) },
			annotations: {
				title: "My recent decisions",
				readOnlyHint: true,
				destructiveHint: false,
				idempotentHint: true,
				openWorldHint: false,
			},
		},
		async ({ limit, tool, verdict }, extra) => {
			const records = (await read({ limit: limit ?? 10, tool, verdict }, extra)).map(({ session_id: _hidden, ...record }) => record);
			const lines = records.length
				? records.map((r) => `${r.at}  ${r.verdict.padEnd(5)} ${r.tool}  ${r.outcome}  request_id ${r.request_id}  (${r.policy_version})`)
				: ["No decisions on record."];
			return {
				content: [{ type: "text" as const, text: lines.join("\n") }],
				structuredContent: { records: records as unknown as Record<string, unknown>[] },
			};
		},
	);
}
