/**
 * What the pipeline needs from the approval system, without knowing where
 * approvals are kept (a Durable Object in the Worker, memory in unit tests).
 */
import { createHash } from "node:crypto";
import type { Decision } from "./decision";

/** Who can grant approvals on this server: another admin (tokens), the operator (`npm run dev`'s approver link), or nobody. */
export type Approver = "admin" | "operator" | "none";

export interface ApprovalTicket {
	id: string;
	status: "pending";
	expires_at: string;
	url: string;
	/** Who can grant it; absent means another admin. */
	approver?: Approver;
}

export interface ApprovalRequest {
	principal: string;
	role: string;
	tool: string;
	args: Record<string, unknown>;
	argsHash: string;
	decision: Decision;
	/** Why a person is asked: the authority refused, a rule needs it, or the loop limit was reached. */
	kind: "authority" | "rule" | "loop";
}

export interface GrantedApproval {
	id: string;
	approved_by: string;
	approved_at: string;
}

export type ConsumeResult = { ok: true; approval: GrantedApproval } | { ok: false; reason: string };

export interface ApprovalDesk {
	open(request: ApprovalRequest): Promise<ApprovalTicket>;
	/** Atomically checks and uses an approval: approved, unexpired, unused, same principal, tool and arguments. */
	consume(id: string, expected: { principal: string; tool: string; argsHash: string }): Promise<ConsumeResult>;
}

/** JSON with sorted keys: the same arguments always hash the same. */
export function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
	if (value && typeof value === "object") {
		const entries = Object.entries(value as Record<string, unknown>)
			.filter(([, v]) => v !== undefined)
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
	}
	return JSON.stringify(value);
}

/**
 * SHA-256 of the canonical arguments. Synchronous node:crypto (Workers with
 * nodejs_compat, and Node): crypto.subtle.digest costs a thread-pool round
 * trip in Node, most of a whole decision (see BENCHMARKS.md).
 */
export function argumentsHash(args: Record<string, unknown>): string {
	return createHash("sha256").update(canonicalJson(args)).digest("hex");
}
