/**
 * The closed sets of words the guard and its adapters speak, each defined
 * once: the tool schemas, the APIs, the demo and the tests import them from
 * here (as arrays, types and zod enums) instead of repeating the literals.
 */
import { z } from "zod";

/** What an authority answers (stage0-contract.md). */
export const VERDICTS = ["ALLOW", "DENY", "DEFER"] as const;
export type Verdict = (typeof VERDICTS)[number];
export const VerdictSchema = z.enum(VERDICTS);

/** Stage0's posture beside the verdict; ERROR marks a fault (no usable decision). */
export const DECISIONS = ["GO", "NO_GO", "DEFER", "ERROR"] as const;
export type DecisionPosture = (typeof DECISIONS)[number];
export const DecisionPostureSchema = z.enum(DECISIONS);

/**
 * Who decided: Stage0, the simulator, the local policy, a fault of the server
 * or of the authority, or `protocol` (a call refused before the pipeline: an
 * unknown or hidden tool, invalid arguments).
 */
export const DECISION_SOURCES = ["stage0", "simulated", "local-rule", "fault", "protocol"] as const;
export type DecisionSource = (typeof DECISION_SOURCES)[number];
export const DecisionSourceSchema = z.enum(DECISION_SOURCES);

/** A caller's role, as its credentials state it (never as the agent claims it). */
export const ROLES = ["admin", "developer", "viewer"] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = z.enum(ROLES);

/** Where an approval request is in its life. `expired` is a matter of time, never stored. */
export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "used", "expired"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export const ApprovalStatusSchema = z.enum(APPROVAL_STATUSES);

/** What an agent may claim its approval status is, in a tool's arguments (checked, never trusted). */
export const CLAIMED_APPROVAL_STATUSES = ["approved", "pending", "none"] as const;
export type ClaimedApprovalStatus = (typeof CLAIMED_APPROVAL_STATUSES)[number];

/** Why a person is asked to approve: the authority refused, a local rule needs it, or the loop limit was reached. */
export const APPROVAL_KINDS = ["authority", "rule", "loop"] as const;
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

/** Who can grant approvals on a server: another admin (tokens), the operator (`npm run dev`'s approver link), or nobody. */
export const APPROVERS = ["admin", "operator", "none"] as const;
export type Approver = (typeof APPROVERS)[number];

/**
 * What happened to a call's action: `pending` while it runs (only in the
 * write-ahead audit record), then `executed`, `failed` or `not_run`.
 */
export const OUTCOMES = ["pending", "executed", "failed", "not_run"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const OutcomeSchema = z.enum(OUTCOMES);

/** An action tool runs after an ALLOW; a query only reports the verdict (a DENY is then an answer, not an error). */
export const TOOL_KINDS = ["action", "query"] as const;
export type ToolKind = (typeof TOOL_KINDS)[number];
