/**
 * What the pipeline needs from the approval system (the ApprovalDesk), without
 * knowing where approvals are kept (a Durable Object in the Worker, memory in
 * unit tests), and the hash of the arguments an approval is bound to.
 */
import { createHash } from "node:crypto";
import type { Decision } from "./decision";
import type { ApprovalKind, Approver } from "./enums";
import type { Result } from "./result";

/** What an approval id looks like (the approval store makes them with crypto.randomUUID): the API and the pages check links against it. */
export const APPROVAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ApprovalTicket {
	id: string;
	status: "pending";
	expires_at: string;
	url: string;
	/** Who can grant it; absent means another admin. */
	approver?: Approver;
	/**
	 * The principal's oldest pending requests that were expired to make room
	 * (at most `limit` may be pending at once). The pipeline turns this into a
	 * note for the caller; it is not part of the ticket the caller sees.
	 */
	superseded?: { ids: string[]; limit: number };
}

export interface ApprovalRequest {
	principal: string;
	role: string;
	tool: string;
	args: Record<string, unknown>;
	argsHash: string;
	decision: Decision;
	/** Why a person is asked: the authority refused, a rule needs it, or the loop limit was reached. */
	kind: ApprovalKind;
}

export interface GrantedApproval {
	id: string;
	approved_by: string;
	approved_at: string;
}

/** The approval that was used, or why it could not be (words that complete "was not accepted: ..."). */
export type ConsumeResult = Result<GrantedApproval, string>;

export interface ApprovalDesk {
	open(request: ApprovalRequest): Promise<ApprovalTicket>;
	/** Atomically checks and uses an approval: approved, unexpired, unused, same principal, tool and arguments. */
	consume(id: string, expected: { principal: string; tool: string; argsHash: string }): Promise<ConsumeResult>;
}

/**
 * JSON with sorted keys: the same arguments always hash the same, and
 * different ones never do (the text parses back to the value). Members that
 * are undefined are dropped, as JSON drops them, and -0 is written 0 (as in
 * RFC 8785). Anything JSON cannot carry (NaN, Infinity, undefined or a hole
 * in an array, a bigint, a function, a Date, a Map, ...) is refused with a
 * TypeError rather than written like some other value.
 */
export function canonicalJson(value: unknown): string {
	switch (typeof value) {
		case "string":
		case "boolean":
			return JSON.stringify(value);
		case "number":
			if (!Number.isFinite(value)) throw new TypeError(`arguments must be JSON: ${value} is not a JSON number`);
			return JSON.stringify(value);
		case "object": {
			if (value === null) return "null";
			if (Array.isArray(value)) {
				const items: string[] = [];
				for (let i = 0; i < value.length; i++) {
					if (!(i in value) || value[i] === undefined) throw new TypeError("arguments must be JSON: an array has an undefined item");
					items.push(canonicalJson(value[i]));
				}
				return `[${items.join(",")}]`;
			}
			const proto = Object.getPrototypeOf(value);
			if (proto !== Object.prototype && proto !== null) {
				throw new TypeError(`arguments must be JSON: a ${proto?.constructor?.name ?? "non-plain"} object is not`);
			}
			const entries = Object.entries(value as Record<string, unknown>)
				.filter(([, v]) => v !== undefined)
				.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
			return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
		}
		default:
			throw new TypeError(`arguments must be JSON: a ${typeof value} is not`);
	}
}

/**
 * SHA-256 of the canonical arguments. Synchronous node:crypto (Workers with
 * nodejs_compat, and Node): crypto.subtle.digest costs a thread-pool round
 * trip in Node, most of a whole decision (see BENCHMARKS.md).
 */
export function argumentsHash(args: Record<string, unknown>): string {
	return createHash("sha256").update(canonicalJson(args)).digest("hex");
}
