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
	/** SHA-256 of the approver link's secret, set by `npm run dev` at each start (see src/auth/operator.ts). */
	OPERATOR_TOKEN_SHA256?: string;
	APPROVAL_TTL_SECONDS?: string;
	LOOP_WINDOW_SECONDS?: string;
	RATE_LIMIT_PER_MINUTE?: string;
	AUDIT_STORE_ARGUMENTS?: string;
	AUDIT_RETENTION_DAYS?: string;
	/** Where people reach this server (e.g. https://guard.example.com): approval links are built from it. */
	PUBLIC_URL?: string;
	/** Comma-separated origins (besides the server's own) whose web pages may call it. */
	ALLOWED_ORIGINS?: string;
	/** Open sessions and SSE streams per principal. */
	MAX_SESSIONS_PER_PRINCIPAL?: string;
	/**
	 * Set only by the project's launcher (scripts/lib/dev-server.ts): the loopback
	 * address `wrangler dev` was bound to. Without MCP_AUTH_TOKENS, the server serves
	 * only when this attests a loopback bind; never set it in wrangler.jsonc.
	 */
	DEV_LOOPBACK_BIND?: string;
	/** Pending approval requests one principal may have open; one more expires its oldest. */
	MAX_PENDING_APPROVALS_PER_PRINCIPAL?: string;
	/** Cedar policy text (var or secret) replacing the bundled policies/default.cedar. */
	GUARD_POLICY?: string;
	/** OAuth state (grants, tokens as hashes, clients) and started sign-ins; the name @cloudflare/workers-oauth-provider expects. */
	OAUTH_KV: KVNamespace;
	/** The people's OpenID Connect provider (README "OAuth sign-in"); none: people sign in with a token. */
	OIDC_ISSUER?: string;
	OIDC_CLIENT_ID?: string;
	/** Secret. */
	OIDC_CLIENT_SECRET?: string;
	/** The ID token claim whose values name roles, and the JSON map from those values to roles (default role: viewer). */
	OIDC_ROLE_CLAIM?: string;
	OIDC_ROLE_MAP?: string;
	/** The claim naming the principal (default email, falling back to sub). */
	OIDC_PRINCIPAL_CLAIM?: string;
	/** Lifetime of OAuth access tokens in seconds (default 3600); refresh tokens renew them. */
	OAUTH_ACCESS_TOKEN_TTL?: string;
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
	/** Problems with the configuration a person should hear about at start-up (never a secret's value). */
	warnings: string[];
}

export const DEFAULT_BASE_URL = "https://api.signalpulse.org";
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_RETRIES = 5;
export const DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 32;

function positiveInt(raw: string | undefined, fallback: number, max: number): number {
	if (raw === undefined || raw.trim() === "") return fallback;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < 1 || n > max) return fallback;
	return n;
}

/**
 * Values that stand for a key rather than being one: the examples' `your_api_key_here` and its
 * kin, `<...>`, `changeme`, `xxx`. Sending one to Stage0 would only fail every call as "could not
 * be reached" or "rejected the API key", so it counts as no key at all.
 */
const PLACEHOLDER_KEY =
	/^(?:your[\s_-]*(?:stage0[\s_-]*)?(?:api[\s_-]*)?key(?:[\s_-]*here)?|<[^>]*>|\$\{?[A-Z][A-Z0-9_]*\}?|change[\s_-]*me|replace[\s_-]*me|placeholder|todo|x{3,}|\.{3}|…)$/i;

export function isPlaceholderKey(value: string): boolean {
	return PLACEHOLDER_KEY.test(value.trim());
}

export function readConfig(env: Partial<Env>): GuardConfig {
	const warnings: string[] = [];
	let apiKey = env.STAGE0_API_KEY?.trim() || undefined;
	if (apiKey && isPlaceholderKey(apiKey)) {
		apiKey = undefined;
		warnings.push(
			"STAGE0_API_KEY holds a placeholder from an example, not a key, so the server runs in SIMULATED mode. " +
				"Put your real key in .dev.vars (or `wrangler secret put STAGE0_API_KEY`), or remove the line.",
		);
	}
	const baseUrl = (env.STAGE0_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, "");
	return {
		mode: apiKey ? "stage0" : "simulated",
		apiKey,
		baseUrl,
		baseUrlProblem: stage0BaseUrlProblem(baseUrl),
		timeoutMs: positiveInt(env.STAGE0_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, 60_000),
		maxRetries: positiveInt(env.MAX_RETRIES, DEFAULT_MAX_RETRIES, 1000),
		auditArguments: env.AUDIT_STORE_ARGUMENTS?.trim().toLowerCase() === "true",
		warnings,
	};
}

/** Who may reach the server, and from where: read by the Worker entry on each request. */
export interface EdgeConfig {
	/** The origin approval links are built from, when configured (no trailing slash). */
	publicOrigin?: string;
	/** Exact origins whose pages may call the server, besides its own. */
	allowedOrigins: Set<string>;
	maxSessionsPerPrincipal: number;
	/** The launcher attested a loopback bind (only then is a token-less server served). */
	loopbackBind: boolean;
}

const LOOPBACK_BIND = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/;

/** An http(s) URL's origin, or undefined for anything else (an unusable value is never half-used). */
function originOf(raw: string | undefined): string | undefined {
	if (!raw?.trim()) return undefined;
	try {
		const url = new URL(raw.trim());
		return url.protocol === "https:" || url.protocol === "http:" ? url.origin : undefined;
	} catch {
		return undefined;
	}
}

export function readEdgeConfig(env: Partial<Env>): EdgeConfig {
	const allowedOrigins = new Set<string>();
	for (const part of (env.ALLOWED_ORIGINS ?? "").split(",")) {
		const origin = originOf(part);
		if (origin) allowedOrigins.add(origin);
	}
	return {
		publicOrigin: originOf(env.PUBLIC_URL),
		allowedOrigins,
		maxSessionsPerPrincipal: positiveInt(env.MAX_SESSIONS_PER_PRINCIPAL, DEFAULT_MAX_SESSIONS_PER_PRINCIPAL, 100_000),
		loopbackBind: LOOPBACK_BIND.test(env.DEV_LOOPBACK_BIND?.trim() ?? ""),
	};
}
