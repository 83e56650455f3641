/**
 * Reads the Worker's bindings into one typed, validated configuration.
 *
 * Every knob has a safe default; a value that does not parse falls back to the
 * default rather than to something looser (a negative timeout or retry limit
 * would weaken the guard, so it is never accepted).
 */

import type { GatewayEnv } from "./gateway/config";
import { stage0BaseUrlProblem } from "./guard/stage0-client";
import type { ApprovalStore } from "./state/approval-store";
import type { AuditLog } from "./state/audit-log";
import type { BudgetStore } from "./state/budget-store";

/** GatewayEnv: the upstreams of gateway mode and GUARD_MODE (src/gateway/config.ts). */
export interface Env extends GatewayEnv {
	MCP_OBJECT: DurableObjectNamespace;
	APPROVALS: DurableObjectNamespace<ApprovalStore>;
	/** One object per principal: rate limit and rolling loop budgets. */
	BUDGETS: DurableObjectNamespace<BudgetStore>;
	/** One object per principal: the audit trail. */
	AUDIT_LOG: DurableObjectNamespace<AuditLog>;
	STAGE0_API_KEY?: string;
	STAGE0_BASE_URL?: string;
	STAGE0_TIMEOUT_MS?: string;
	MAX_RETRIES?: string;
	/** Secret: JSON mapping SHA-256(token) to { principal, role }. */
	MCP_AUTH_TOKENS?: string;
	/** The role of loopback callers when MCP_AUTH_TOKENS is not set. */
	LOCAL_ROLE?: string;
	APPROVAL_TTL_SECONDS?: string;
	LOOP_WINDOW_SECONDS?: string;
	RATE_LIMIT_PER_MINUTE?: string;
	AUDIT_STORE_ARGUMENTS?: string;
	AUDIT_RETENTION_DAYS?: string;
	/** Pending approval requests one principal may have open; one more expires its oldest. */
	MAX_PENDING_APPROVALS_PER_PRINCIPAL?: string;
}

export type Mode = "stage0" | "simulated";

export interface GuardConfig {
	mode: Mode;
	/** Present only in stage0 mode. Never log or return it. */
	apiKey?: string;
	baseUrl: string;
	/** Why STAGE0_BASE_URL cannot be used (then every Stage0 call fails closed with it). */
	baseUrlProblem?: string;
	timeoutMs: number;
	maxRetries: number;
	/** Store redacted arguments in the audit trail (otherwise only their hash). */
	auditArguments: boolean;
}

export const DEFAULT_BASE_URL = "https://api.signalpulse.org";
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_RETRIES = 5;

function positiveInt(raw: string | undefined, fallback: number, max: number): number {
	if (raw === undefined || raw.trim() === "") return fallback;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < 1 || n > max) return fallback;
	return n;
}

export function readConfig(env: Partial<Env>): GuardConfig {
	const apiKey = env.STAGE0_API_KEY?.trim() || undefined;
	const baseUrl = (env.STAGE0_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, "");
	return {
		mode: apiKey ? "stage0" : "simulated",
		apiKey,
		baseUrl,
		baseUrlProblem: stage0BaseUrlProblem(baseUrl),
		timeoutMs: positiveInt(env.STAGE0_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, 60_000),
		maxRetries: positiveInt(env.MAX_RETRIES, DEFAULT_MAX_RETRIES, 1000),
		auditArguments: env.AUDIT_STORE_ARGUMENTS?.trim().toLowerCase() === "true",
	};
}
