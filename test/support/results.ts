/**
 * The shapes tests read from the server, typed from src/ (types only, so both
 * Node and workerd tests import it): a guarded tool's result, and the answers
 * of the approvals and audit APIs.
 */
import type { ApprovalTicket } from "../../src/guard/approvals";
import type { GuardedResult } from "../../src/tools/result";
import type { ApprovalRecord } from "../../src/state/approval-store";
import type { AuditRecord } from "../../src/state/audit-log";

/** What src/tools/result.ts renders into structuredContent: its one schema's type (the audit-log tool answers `records` instead). */
export type StructuredResult = GuardedResult & { records?: Record<string, unknown>[] };

export type ToolResult = {
	content: { type: string; text: string }[];
	structuredContent?: StructuredResult;
	isError?: boolean;
	/** Gateway mode: the upstream's own result, with the guard's decision here (src/gateway/tools.ts). */
	_meta?: { guard: StructuredResult & { mode?: "shadow"; would_block?: boolean } };
};

/** The approval a held call offers; throws, failing the test, when it offers none. */
export function heldApproval(result: ToolResult): ApprovalTicket {
	const approval = result.structuredContent?.approval;
	if (!approval) throw new Error(`expected a held call with an approval, got: ${JSON.stringify(result.structuredContent)}`);
	return approval;
}

/** The server's attempt count of a loop tool's call; throws, failing the test, when it has none. */
export function attemptOf(result: ToolResult): NonNullable<StructuredResult["attempt"]> {
	const attempt = result.structuredContent?.attempt;
	if (!attempt) throw new Error(`expected an attempt count, got: ${JSON.stringify(result.structuredContent)}`);
	return attempt;
}

/**
 * What the approvals and audit APIs (src/api/) may answer, each field typed as present:
 * a test that reads one the answer lacks fails there.
 */
export interface ApiAnswer {
	approval: ApprovalRecord;
	approvals: ApprovalRecord[];
	next_cursor: string | null;
	viewer: { principal: string; role: string };
	records: AuditRecord[];
	request_id: string;
	error: string;
	message: string;
}
