/**
 * Every variable the Worker reads, so that each test project can set all of
 * them and none comes from a developer's .dev.vars or .env. Imported by
 * vitest.config.ts (Node) and by tests inside workerd: types only from src/.
 */
import type { Env } from "../../src/config";

type Variable = { [K in keyof Env]-?: NonNullable<Env[K]> extends string ? K : never }[keyof Env];

/** Type-checked against Env: a new variable there must be listed here, or tsc fails. */
const VARIABLES: Record<Variable, true> = {
	STAGE0_API_KEY: true,
	STAGE0_BASE_URL: true,
	STAGE0_TIMEOUT_MS: true,
	MAX_RETRIES: true,
	MCP_AUTH_TOKENS: true,
	LOCAL_ROLE: true,
	APPROVAL_TTL_SECONDS: true,
	LOOP_WINDOW_SECONDS: true,
	RATE_LIMIT_PER_MINUTE: true,
	AUDIT_STORE_ARGUMENTS: true,
	AUDIT_RETENTION_DAYS: true,
	MAX_PENDING_APPROVALS_PER_PRINCIPAL: true,
	PUBLIC_URL: true,
	ALLOWED_ORIGINS: true,
	MAX_SESSIONS_PER_PRINCIPAL: true,
	DEV_LOOPBACK_BIND: true,
	OPERATOR_TOKEN_SHA256: true,
	GUARD_POLICY: true,
	UPSTREAM_MCP_URL: true,
	UPSTREAM_MCP_HEADERS: true,
	UPSTREAM_NAME: true,
	UPSTREAMS: true,
	BUILTIN_TOOLS: true,
	UPSTREAM_REFRESH_SECONDS: true,
	UPSTREAM_TIMEOUT_MS: true,
	GUARD_MODE: true,
	OIDC_ISSUER: true,
	OIDC_CLIENT_ID: true,
	OIDC_CLIENT_SECRET: true,
	OIDC_ROLE_CLAIM: true,
	OIDC_ROLE_MAP: true,
	OIDC_PRINCIPAL_CLAIM: true,
	OAUTH_ACCESS_TOKEN_TTL: true,
};
export const WORKER_VARIABLES = Object.keys(VARIABLES) as Variable[];

/** The binding through which a test project tells its tests which values it set. */
export const EXPECTED_BINDINGS = "TEST_EXPECTED_BINDINGS";

/**
 * All of the Worker's variables: wrangler.jsonc's vars, an empty string (= not
 * set: no Stage0 key, no tokens) for the rest, then the project's own values.
 */
export function hermeticBindings(configVars: Record<string, unknown>, project: Record<string, string>): Record<string, string> {
	const all: Record<string, string> = {};
	for (const name of WORKER_VARIABLES) {
		const fromConfig = configVars[name];
		all[name] = typeof fromConfig === "string" ? fromConfig : "";
	}
	Object.assign(all, project);
	return { ...all, [EXPECTED_BINDINGS]: JSON.stringify(all) };
}
