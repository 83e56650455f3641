/**
 * The Worker's configuration: the one function that reads, parses and
 * defaults every variable of the table (src/variables.ts: name, var or
 * secret, default, meaning) into a typed Config. Nothing else reads a variable:
 * the Worker entry, the session and the Durable Objects take their values
 * from readConfig. README "Configuration" and wrangler.jsonc's vars are
 * checked against the table (test/config.test.ts).
 *
 * A value that does not parse never loosens the guard: a number falls back to
 * its default, a security setting to its closed reading (no operator, no
 * loopback attestation, enforce mode, the viewer role), and a warning naming
 * the variable goes to the start-up log. A broken MCP_AUTH_TOKENS refuses
 * every request; a broken upstream entry is an upstream in error.
 */

import { parseTokenTable, type TokenEntry } from "./auth/tokens";
import { type Role, ROLES } from "./guard/enums";
import { type GatewayConfig, type GuardMode, parseUpstreams, type UpstreamSource } from "./gateway/config";
import { stage0BaseUrlProblem } from "./guard/stage0-client";
import { VARIABLES, type VariableEnv, type VariableName, type VariableSpec } from "./variables";

export { VARIABLES, type VariableEnv, type VariableName, type VariableSpec };

/**
 * The Worker's environment: its bindings and vars as `wrangler types` generates them from
 * wrangler.jsonc (worker-configuration.d.ts, `npm run types`; `npm run check` fails when it is stale),
 * with every variable of VARIABLES, the secrets included, as an optional string.
 */
export type Env = Cloudflare.Env & VariableEnv;

/**
 * Where verdicts come from: Stage0, always with a key, or the local simulator.
 * Stage0 mode without a key cannot be written.
 */
export type AuthorityChoice =
	| { mode: "simulated" }
	| {
			mode: "stage0";
			/** Never log or return it. */
			apiKey: string;
			baseUrl: string;
			/** Why STAGE0_BASE_URL cannot be used (then every Stage0 call fails closed with it). */
			baseUrlProblem?: string;
			timeoutMs: number;
	  };

export type Mode = AuthorityChoice["mode"];

/** MCP_AUTH_TOKENS: not set (loopback only), a table, or a value that does not parse (every request refused). */
export type TokenTableSetting = { kind: "none" } | { kind: "table"; entries: TokenEntry[] } | { kind: "invalid"; error: string };

/** Who may call, and how callers are recognised. */
export interface AccessConfig {
	tokens: TokenTableSetting;
	/** The role of loopback callers without tokens. */
	localRole: Role;
	/** SHA-256 (lowercase hex) of this start's approver-link secret, when `npm run dev` set a well-formed one. */
	operatorTokenSha256?: string;
	/** The launcher attested a loopback bind (only then is a token-less server served). */
	loopbackBind: boolean;
	/** OIDC_ISSUER: people sign in at this provider (then every request needs a credential, as with tokens). */
	oidcIssuer?: string;
	/** OAUTH_ACCESS_TOKEN_TTL: the lifetime of the authorization server's access tokens. */
	accessTokenTtlSeconds: number;
}

/** Who may reach the server, and from where: read by the Worker entry on each request. */
export interface EdgeConfig {
	/** The origin approval links are built from, when configured (no trailing slash). */
	publicOrigin?: string;
	/** Exact origins whose pages may call the server, besides its own. */
	allowedOrigins: Set<string>;
	maxSessionsPerPrincipal: number;
}

export interface ApprovalsConfig {
	/** How long a pending request, then a granted approval, stays valid. */
	ttlMs: number;
	maxPendingPerPrincipal: number;
	/** How long an approver's sign-in on the approvals page lasts. */
	approverSessionTtlSeconds: number;
}

export interface BudgetsConfig {
	callsPerMinute: number;
	loopWindowMs: number;
}

export interface AuditConfig {
	/** Store redacted arguments in the audit trail (otherwise only their hash). */
	storeArguments: boolean;
	/** Records (and approvals past their expiry) older than this are pruned. */
	retentionMs: number;
}

export interface OidcSettings {
	/** Unset: no OIDC sign-in. */
	issuer?: string;
	clientId?: string;
	clientSecret?: string;
	roleClaim?: string;
	/** The JSON text of OIDC_ROLE_MAP. */
	roleMap?: string;
	principalClaim: string;
}

export interface Config {
	authority: AuthorityChoice;
	/** The loop threshold of `retry-workflow`. */
	maxRetries: number;
	access: AccessConfig;
	edge: EdgeConfig;
	approvals: ApprovalsConfig;
	budgets: BudgetsConfig;
	audit: AuditConfig;
	/** GUARD_POLICY as set (unset or blank: the bundled policy set; see policy/source.ts). */
	policyText?: string;
	gateway: GatewayConfig;
	/** The OpenID Connect variables, trimmed (src/auth/oidc.ts checks that they make a usable provider). */
	oidc: OidcSettings;
	/** Problems with the configuration a person should hear about at start-up (never a secret's value). */
	warnings: string[];
}

const DAY_MS = 24 * 3600 * 1000;

/** The whole configuration, parsed once per environment object (the Worker's and each Durable Object's are long-lived). */
const parsed = new WeakMap<object, Config>();

export function readConfig(env: VariableEnv): Config {
	let config = parsed.get(env);
	if (!config) {
		config = parseConfig(env);
		parsed.set(env, config);
	}
	return config;
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

const LOOPBACK_BIND = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function parseConfig(env: VariableEnv): Config {
	const warnings: string[] = [];
	/** The variable's value, trimmed; undefined when unset or blank. */
	const read = (name: VariableName): string | undefined => env[name]?.trim() || undefined;
	const defaultOf = (name: VariableName): string => {
		const spec: VariableSpec = VARIABLES[name];
		if (spec.default === undefined) throw new Error(`${name} has no default in VARIABLES`);
		return spec.default;
	};
	/** A whole number from 1 to max; anything else means the default, and a warning. */
	const positiveInt = (name: VariableName, max: number): number => {
		const fallback = Number(defaultOf(name));
		const raw = read(name);
		if (raw === undefined) return fallback;
		const n = Number(raw);
		if (Number.isInteger(n) && n >= 1 && n <= max) return n;
		warnings.push(`${name} must be a whole number from 1 to ${max}; using its default, ${fallback}.`);
		return fallback;
	};
	/** A whole number from min to max (the OAuth library refuses less than a minute); else the default, and a warning. */
	const boundedInt = (name: VariableName, min: number, max: number): number => {
		const fallback = Number(defaultOf(name));
		const raw = read(name);
		if (raw === undefined) return fallback;
		const n = Number(raw);
		if (Number.isInteger(n) && n >= min && n <= max) return n;
		warnings.push(`${name} must be a whole number from ${min} to ${max}; using its default, ${fallback}.`);
		return fallback;
	};
	/** One of the words, case-insensitive; anything else means `otherwise` (the closed reading), and a warning. */
	const word = <W extends string>(name: VariableName, words: readonly W[], otherwise: W): W => {
		const raw = read(name);
		if (raw === undefined) return defaultOf(name) as W;
		const lower = raw.toLowerCase();
		const found = words.find((w) => w === lower);
		if (found !== undefined) return found;
		warnings.push(`${name} must be ${words.join(" or ")}; using ${otherwise}.`);
		return otherwise;
	};

	return {
		authority: readAuthority(read, defaultOf, positiveInt, warnings),
		maxRetries: positiveInt("MAX_RETRIES", 1000),
		access: {
			tokens: readTokenTable(read("MCP_AUTH_TOKENS"), warnings),
			localRole: word("LOCAL_ROLE", ROLES, "viewer"),
			operatorTokenSha256: readOperatorHash(read("OPERATOR_TOKEN_SHA256"), warnings),
			loopbackBind: readLoopbackBind(read("DEV_LOOPBACK_BIND"), warnings),
			oidcIssuer: read("OIDC_ISSUER"),
			accessTokenTtlSeconds: boundedInt("OAUTH_ACCESS_TOKEN_TTL", 60, 86_400),
		},
		edge: {
			publicOrigin: readPublicOrigin(read("PUBLIC_URL"), warnings),
			allowedOrigins: readAllowedOrigins(env.ALLOWED_ORIGINS, warnings),
			maxSessionsPerPrincipal: positiveInt("MAX_SESSIONS_PER_PRINCIPAL", 100_000),
		},
		approvals: {
			ttlMs: positiveInt("APPROVAL_TTL_SECONDS", 7 * 24 * 3600) * 1000,
			maxPendingPerPrincipal: positiveInt("MAX_PENDING_APPROVALS_PER_PRINCIPAL", 10_000),
			approverSessionTtlSeconds: positiveInt("APPROVER_SESSION_TTL_SECONDS", 7 * 24 * 3600),
		},
		budgets: {
			callsPerMinute: positiveInt("RATE_LIMIT_PER_MINUTE", Number.MAX_SAFE_INTEGER),
			loopWindowMs: positiveInt("LOOP_WINDOW_SECONDS", Number.MAX_SAFE_INTEGER) * 1000,
		},
		audit: {
			storeArguments: word("AUDIT_STORE_ARGUMENTS", ["true", "false"], "false") === "true",
			retentionMs: readRetentionDays(read("AUDIT_RETENTION_DAYS"), Number(defaultOf("AUDIT_RETENTION_DAYS")), warnings) * DAY_MS,
		},
		policyText: env.GUARD_POLICY,
		gateway: {
			upstreams: parseUpstreams(readUpstreamSource(env, read, defaultOf), positiveInt("UPSTREAM_TIMEOUT_MS", 600_000)),
			builtinTools: word("BUILTIN_TOOLS", ["true", "false"], "true") === "true",
			refreshSeconds: positiveInt("UPSTREAM_REFRESH_SECONDS", 86_400),
			guardMode: word<GuardMode>("GUARD_MODE", ["enforce", "shadow"], "enforce"),
		},
		oidc: {
			issuer: read("OIDC_ISSUER"),
			clientId: read("OIDC_CLIENT_ID"),
			clientSecret: read("OIDC_CLIENT_SECRET"),
			roleClaim: read("OIDC_ROLE_CLAIM"),
			roleMap: read("OIDC_ROLE_MAP"),
			principalClaim: read("OIDC_PRINCIPAL_CLAIM") ?? defaultOf("OIDC_PRINCIPAL_CLAIM"),
		},
		warnings,
	};
}

function readAuthority(
	read: (name: VariableName) => string | undefined,
	defaultOf: (name: VariableName) => string,
	positiveInt: (name: VariableName, max: number) => number,
	warnings: string[],
): AuthorityChoice {
	let apiKey = read("STAGE0_API_KEY");
	if (apiKey && isPlaceholderKey(apiKey)) {
		apiKey = undefined;
		warnings.push(
			"STAGE0_API_KEY holds a placeholder from an example, not a key, so the server runs in SIMULATED mode. " +
				"Put your real key in .dev.vars (or `wrangler secret put STAGE0_API_KEY`), or remove the line.",
		);
	}
	// Read (and warned about) in both modes, so a bad timeout is reported before a key is added.
	const timeoutMs = positiveInt("STAGE0_TIMEOUT_MS", 60_000);
	if (!apiKey) return { mode: "simulated" };
	const baseUrl = (read("STAGE0_BASE_URL") ?? defaultOf("STAGE0_BASE_URL")).replace(/\/+$/, "");
	return { mode: "stage0", apiKey, baseUrl, baseUrlProblem: stage0BaseUrlProblem(baseUrl), timeoutMs };
}

/** Token tables parsed so far, by their text: the table is parsed once, not on every request. */
let lastTokenTable: { raw: string; setting: TokenTableSetting } | undefined;

function readTokenTable(raw: string | undefined, warnings: string[]): TokenTableSetting {
	if (raw === undefined) return { kind: "none" };
	if (lastTokenTable?.raw !== raw) {
		let setting: TokenTableSetting;
		try {
			setting = { kind: "table", entries: parseTokenTable(raw) };
		} catch (error) {
			// parseTokenTable's messages name MCP_AUTH_TOKENS and never echo the value.
			setting = { kind: "invalid", error: error instanceof Error ? error.message : "MCP_AUTH_TOKENS is not a valid token table" };
		}
		lastTokenTable = { raw, setting };
	}
	const setting = lastTokenTable.setting;
	if (setting.kind === "invalid") warnings.push(`${setting.error}: every request is refused until it is fixed.`);
	return setting;
}

function readOperatorHash(raw: string | undefined, warnings: string[]): string | undefined {
	if (raw === undefined) return undefined;
	const hash = raw.toLowerCase();
	if (SHA256_HEX.test(hash)) return hash;
	warnings.push("OPERATOR_TOKEN_SHA256 is not a SHA-256 in hex, so there is no approver link (start the server with `npm run dev`).");
	return undefined;
}

function readLoopbackBind(raw: string | undefined, warnings: string[]): boolean {
	if (raw === undefined) return false;
	if (LOOPBACK_BIND.test(raw)) return true;
	warnings.push(
		"DEV_LOOPBACK_BIND is not a loopback address, so no loopback bind is attested (never set it yourself: `npm run dev` does).",
	);
	return false;
}

/** An http(s) URL's origin, or undefined for anything else (an unusable value is never half-used). */
function originOf(raw: string): string | undefined {
	try {
		const url = new URL(raw);
		return url.protocol === "https:" || url.protocol === "http:" ? url.origin : undefined;
	} catch {
		return undefined;
	}
}

function readPublicOrigin(raw: string | undefined, warnings: string[]): string | undefined {
	if (raw === undefined) return undefined;
	const origin = originOf(raw);
	if (!origin) warnings.push("PUBLIC_URL is not an http(s) URL, so approval links are relative.");
	return origin;
}

function readAllowedOrigins(raw: string | undefined, warnings: string[]): Set<string> {
	const allowed = new Set<string>();
	for (const part of (raw ?? "").split(",")) {
		if (!part.trim()) continue;
		const origin = originOf(part.trim());
		if (origin) allowed.add(origin);
		else warnings.push(`ALLOWED_ORIGINS: '${part.trim().slice(0, 100)}' is not an http(s) origin and is ignored.`);
	}
	return allowed;
}

/** Any positive number of days (fractions too); anything else means the default. */
function readRetentionDays(raw: string | undefined, fallback: number, warnings: string[]): number {
	if (raw === undefined) return fallback;
	const n = Number(raw);
	if (Number.isFinite(n) && n > 0) return n;
	warnings.push(`AUDIT_RETENTION_DAYS must be a positive number of days; using its default, ${fallback}.`);
	return fallback;
}

function readUpstreamSource(
	env: VariableEnv,
	read: (name: VariableName) => string | undefined,
	defaultOf: (name: VariableName) => string,
): UpstreamSource {
	const url = read("UPSTREAM_MCP_URL");
	return {
		single: url
			? { name: read("UPSTREAM_NAME") ?? defaultOf("UPSTREAM_NAME"), url: env.UPSTREAM_MCP_URL, headers: env.UPSTREAM_MCP_HEADERS }
			: undefined,
		table: read("UPSTREAMS") ? env.UPSTREAMS : undefined,
	};
}
