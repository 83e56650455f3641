/**
 * The table of every variable the Worker reads: name, var or secret, default
 * and meaning. src/config.ts reads and parses them from it; README
 * "Configuration" and wrangler.jsonc's vars are checked against it
 * (test/config.test.ts); the test projects set every one (test/support/worker-env.ts).
 * No imports: vitest.config.ts loads it in Node.
 */

export interface VariableSpec {
	kind: "var" | "secret" | "var or secret";
	/** The value used when the variable is unset or blank. */
	default?: string;
	/** What README says in the default column of a variable without a default. */
	unset?: string;
	/** Listed in wrangler.jsonc's vars, with its default (or empty). */
	inWranglerVars: boolean;
	/** README's "meaning" column (Markdown). */
	meaning: string;
}

/** Every variable the Worker reads, in README order. */
export const VARIABLES = {
	STAGE0_API_KEY: {
		kind: "secret",
		unset: "none: simulated mode",
		inWranglerVars: false,
		meaning: "sent as `x-api-key`; never logged, returned or shown in an error",
	},
	STAGE0_BASE_URL: {
		kind: "var",
		default: "https://api.signalpulse.org",
		inWranglerVars: true,
		meaning: "the server POSTs to `${STAGE0_BASE_URL}/check`; https only (http only for loopback), else every call is refused",
	},
	STAGE0_TIMEOUT_MS: {
		kind: "var",
		default: "5000",
		inWranglerVars: true,
		meaning: "the whole time budget of one decision, retry included",
	},
	MAX_RETRIES: { kind: "var", default: "5", inWranglerVars: true, meaning: "the loop threshold of `retry-workflow`" },
	MCP_AUTH_TOKENS: {
		kind: "secret",
		unset: "none: loopback only",
		inWranglerVars: false,
		meaning: "JSON: SHA-256 of each token → `{ principal, role }` (`npm run token:new`); if it does not parse, every request is refused",
	},
	LOCAL_ROLE: {
		kind: "var",
		default: "developer",
		inWranglerVars: true,
		meaning: "the role of loopback callers when `MCP_AUTH_TOKENS` is not set (another word than a role means `viewer`)",
	},
	APPROVAL_TTL_SECONDS: {
		kind: "var",
		default: "900",
		inWranglerVars: true,
		meaning: "how long a pending request, and then a granted approval, stays valid",
	},
	APPROVER_SESSION_TTL_SECONDS: {
		kind: "var",
		default: "28800",
		inWranglerVars: true,
		meaning: "how long a sign-in on the approvals page lasts (at most 7 days)",
	},
	LOOP_WINDOW_SECONDS: {
		kind: "var",
		default: "3600",
		inWranglerVars: true,
		meaning: "the rolling window of the per-principal loop budget",
	},
	RATE_LIMIT_PER_MINUTE: {
		kind: "var",
		default: "120",
		inWranglerVars: true,
		meaning: "calls per principal per minute, across sessions",
	},
	AUDIT_STORE_ARGUMENTS: {
		kind: "var",
		default: "false",
		inWranglerVars: true,
		meaning: "also keep the (redacted) arguments in the audit trail, not only their hash",
	},
	AUDIT_RETENTION_DAYS: {
		kind: "var",
		default: "30",
		inWranglerVars: true,
		meaning: "audit records older than this, and approvals this long past their expiry, are pruned",
	},
	MAX_PENDING_APPROVALS_PER_PRINCIPAL: {
		kind: "var",
		default: "20",
		inWranglerVars: true,
		meaning: "pending approval requests one principal may have; one more expires its oldest",
	},
	PUBLIC_URL: {
		kind: "var",
		unset: "none",
		inWranglerVars: true,
		meaning: "where people reach the server (`https://guard.example.com`): approval links are built from it, and its pages may call it",
	},
	ALLOWED_ORIGINS: {
		kind: "var",
		unset: "none",
		inWranglerVars: true,
		meaning: "comma-separated origins of other web pages that may call the server (e.g. an MCP Inspector at `http://localhost:6274`)",
	},
	MAX_SESSIONS_PER_PRINCIPAL: {
		kind: "var",
		default: "32",
		inWranglerVars: true,
		meaning: "open sessions and SSE streams per principal",
	},
	DEV_LOOPBACK_BIND: {
		kind: "var",
		unset: "set by the launcher only",
		inWranglerVars: false,
		meaning: "the loopback address `npm run dev` bound; without tokens, nothing is served unless it is set. Never in `wrangler.jsonc`",
	},
	OPERATOR_TOKEN_SHA256: {
		kind: "var",
		unset: "set by `npm run dev` at each start",
		inWranglerVars: false,
		meaning: "SHA-256 of the approver link's secret; honoured only without `MCP_AUTH_TOKENS`, on loopback, on `/api/approvals*`",
	},
	GUARD_POLICY: {
		kind: "var or secret",
		unset: "none: `policies/default.cedar`",
		inWranglerVars: false,
		meaning: "Cedar policy text replacing the bundled local policy set (`npm run policy:check` first)",
	},
	UPSTREAM_MCP_URL: {
		kind: "var",
		unset: "none",
		inWranglerVars: false,
		meaning: "gateway mode: the remote MCP server whose tools the guard re-exposes (see [Gateway mode](#gateway-mode))",
	},
	UPSTREAM_MCP_HEADERS: {
		kind: "secret",
		unset: "none",
		inWranglerVars: false,
		meaning: "JSON object of headers sent to that upstream only (e.g. its `Authorization`); never logged or shown",
	},
	UPSTREAM_NAME: {
		kind: "var",
		default: "upstream",
		inWranglerVars: false,
		meaning: "the prefix of the single upstream's tools (`<name>.<tool>`)",
	},
	UPSTREAMS: {
		kind: "secret",
		unset: "none",
		inWranglerVars: false,
		meaning: 'several upstreams: JSON `{ "<name>": { "url": "…", "headers": { … }, "timeout_ms": 30000 } }`',
	},
	UPSTREAM_TIMEOUT_MS: {
		kind: "var",
		default: "30000",
		inWranglerVars: true,
		meaning: "how long a forwarded call (and a connection attempt) may take",
	},
	UPSTREAM_REFRESH_SECONDS: {
		kind: "var",
		default: "300",
		inWranglerVars: true,
		meaning: "the longest a cached upstream tool list is used before it is listed again",
	},
	BUILTIN_TOOLS: {
		kind: "var",
		default: "true",
		inWranglerVars: true,
		meaning: "`false` hides the six built-in demonstration tools (`audit-log` stays)",
	},
	GUARD_MODE: {
		kind: "var",
		default: "enforce",
		inWranglerVars: true,
		meaning: "`shadow`: upstream calls are decided and recorded, then run whatever the verdict (see [Shadow mode](#shadow-mode))",
	},
	OIDC_ISSUER: {
		kind: "var",
		unset: "none: people sign in with a token",
		inWranglerVars: true,
		meaning: "the people's OpenID Connect provider (https; http only on loopback); its discovery document must name exactly this issuer",
	},
	OIDC_CLIENT_ID: { kind: "var", unset: "none", inWranglerVars: true, meaning: "this server's client id at that provider" },
	OIDC_CLIENT_SECRET: {
		kind: "secret",
		unset: "none",
		inWranglerVars: false,
		meaning: "this server's client secret at that provider; never logged or shown",
	},
	OIDC_ROLE_CLAIM: {
		kind: "var",
		unset: "none: everyone is a `viewer`",
		inWranglerVars: true,
		meaning: "the ID token claim whose values name a person's role (e.g. `groups`)",
	},
	OIDC_ROLE_MAP: {
		kind: "var",
		unset: "none",
		inWranglerVars: true,
		meaning:
			'JSON `{ "<claim value>": "<role>" }` (admin, developer or viewer); several matches give the highest role, none gives `viewer`',
	},
	OIDC_PRINCIPAL_CLAIM: {
		kind: "var",
		default: "email",
		inWranglerVars: true,
		meaning: "the ID token claim naming the principal (`sub` when the token lacks it)",
	},
	OAUTH_ACCESS_TOKEN_TTL: {
		kind: "var",
		default: "3600",
		inWranglerVars: true,
		meaning: "seconds an OAuth access token lives (60 to 86400); refresh tokens renew it (see [OAuth sign-in](#oauth-sign-in))",
	},
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof VARIABLES;

/** The variables as the Worker receives them (every one a string, any of them unset). */
export type VariableEnv = { readonly [K in VariableName]?: string };
