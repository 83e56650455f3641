/**
 * The variables → configuration step (src/config.ts): its table is the one
 * source of the README's configuration table and wrangler.jsonc's vars, every
 * default comes from it, and a bad value is named and never loosens the guard.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";
import { type AuthorityChoice, isPlaceholderKey, readConfig, VARIABLES, type VariableName, type VariableSpec } from "../src/config";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const NAMES = Object.keys(VARIABLES) as VariableName[];
const spec = (name: VariableName): VariableSpec => VARIABLES[name];

/** README "## Configuration": name → its row's cells (kind, default, meaning). */
function readmeRows(): Map<string, { kind: string; default: string; meaning: string }> {
	const readme = readFileSync(join(ROOT, "README.md"), "utf8");
	const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? "";
	const rows = new Map<string, { kind: string; default: string; meaning: string }>();
	for (const line of section.split("\n")) {
		const cells = line.split("|").map((c) => c.trim());
		const name = /^`([A-Z0-9_]+)`$/.exec(cells[1] ?? "")?.[1];
		if (name) rows.set(name, { kind: cells[2], default: cells[3], meaning: cells.slice(4, -1).join("|") });
	}
	return rows;
}

const README = readmeRows();
const WRANGLER_VARS = unstable_readConfig({ config: join(ROOT, "wrangler.jsonc") }).vars as Record<string, unknown>;

describe("the table of variables is the one source of the README and wrangler.jsonc", () => {
	it.each(NAMES)("README documents %s as the table says", (name) => {
		const v = spec(name);
		expect(README.get(name)).toEqual({
			kind: v.kind,
			default: v.default !== undefined ? `\`${v.default}\`` : v.unset,
			meaning: v.meaning,
		});
	});

	it("README documents no variable the table does not have", () => {
		expect([...README.keys()].filter((name) => !(name in VARIABLES))).toEqual([]);
	});

	it.each(NAMES)("wrangler.jsonc's vars list %s exactly when the table says, with its default", (name) => {
		const v = spec(name);
		expect(WRANGLER_VARS[name]).toBe(v.inWranglerVars ? (v.default ?? "") : undefined);
	});

	it("wrangler.jsonc's vars hold no variable the table does not have, and no secret", () => {
		expect(Object.keys(WRANGLER_VARS).filter((name) => !(name in VARIABLES))).toEqual([]);
		expect(NAMES.filter((name) => spec(name).kind === "secret" && spec(name).inWranglerVars)).toEqual([]);
	});

	it("wrangler.jsonc's vars configure the Worker exactly as no variables at all do, without a warning", () => {
		const fromWrangler = readConfig(WRANGLER_VARS as Record<string, string>);
		expect(fromWrangler).toEqual(readConfig({}));
		expect(fromWrangler.warnings).toEqual([]);
	});
});

describe("src/config.ts is the only reader of a variable", () => {
	const reads = new RegExp(`\\benv\\??\\.(${NAMES.join("|")})\\b`);
	const files = (dir: string): string[] =>
		readdirSync(dir).flatMap((entry) => {
			const path = join(dir, entry);
			return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
		});
	const sources = files(join(ROOT, "src")).map((path) => path.slice(ROOT.length + 1));
	it.each(sources.filter((path) => path !== join("src", "config.ts")))("%s reads no variable itself", (path) => {
		const line = readFileSync(join(ROOT, path), "utf8")
			.split("\n")
			.find((l) => reads.test(l));
		expect(line).toBeUndefined();
	});
});

describe("defaults and bad values", () => {
	it("takes every default from the table", () => {
		const config = readConfig({});
		expect(config).toMatchObject({
			authority: { mode: "simulated" },
			maxRetries: Number(VARIABLES.MAX_RETRIES.default),
			access: { tokens: { kind: "none" }, localRole: VARIABLES.LOCAL_ROLE.default, loopbackBind: false },
			edge: { maxSessionsPerPrincipal: Number(VARIABLES.MAX_SESSIONS_PER_PRINCIPAL.default) },
			approvals: {
				ttlMs: Number(VARIABLES.APPROVAL_TTL_SECONDS.default) * 1000,
				maxPendingPerPrincipal: Number(VARIABLES.MAX_PENDING_APPROVALS_PER_PRINCIPAL.default),
			},
			budgets: {
				callsPerMinute: Number(VARIABLES.RATE_LIMIT_PER_MINUTE.default),
				loopWindowMs: Number(VARIABLES.LOOP_WINDOW_SECONDS.default) * 1000,
			},
			audit: { storeArguments: false, retentionMs: Number(VARIABLES.AUDIT_RETENTION_DAYS.default) * 24 * 3600 * 1000 },
			gateway: {
				upstreams: [],
				builtinTools: true,
				refreshSeconds: Number(VARIABLES.UPSTREAM_REFRESH_SECONDS.default),
				guardMode: "enforce",
			},
			warnings: [],
		});
		const stage0 = readConfig({ STAGE0_API_KEY: "sk-live-0123456789abcdef" }).authority;
		expect(stage0).toMatchObject({
			baseUrl: VARIABLES.STAGE0_BASE_URL.default,
			timeoutMs: Number(VARIABLES.STAGE0_TIMEOUT_MS.default),
		});
		const gateway = readConfig({ UPSTREAM_MCP_URL: "https://mcp.example.com/mcp" }).gateway.upstreams[0];
		expect(gateway).toMatchObject({ name: VARIABLES.UPSTREAM_NAME.default, timeoutMs: Number(VARIABLES.UPSTREAM_TIMEOUT_MS.default) });
	});

	const NUMBERS = [
		"STAGE0_TIMEOUT_MS",
		"MAX_RETRIES",
		"APPROVAL_TTL_SECONDS",
		"LOOP_WINDOW_SECONDS",
		"RATE_LIMIT_PER_MINUTE",
		"AUDIT_RETENTION_DAYS",
		"MAX_PENDING_APPROVALS_PER_PRINCIPAL",
		"MAX_SESSIONS_PER_PRINCIPAL",
		"UPSTREAM_TIMEOUT_MS",
		"UPSTREAM_REFRESH_SECONDS",
	] as const;
	it.each(NUMBERS)("a %s that is not a positive number means its default, and a warning naming it", (name) => {
		for (const bad of ["-5", "0", "ten", "1e400"]) {
			const config = readConfig({ STAGE0_API_KEY: "sk-live-0123456789abcdef", [name]: bad });
			const { warnings: _warnings, ...values } = config;
			const { warnings: _none, ...defaults } = readConfig({ STAGE0_API_KEY: "sk-live-0123456789abcdef" });
			expect(values).toEqual(defaults);
			expect(config.warnings).toEqual([expect.stringContaining(name)]);
			expect(config.warnings[0]).toContain(VARIABLES[name].default);
		}
	});

	it("a LOCAL_ROLE that is not a role means the least one, viewer, and a warning (never developer by accident)", () => {
		const config = readConfig({ LOCAL_ROLE: "viewr", DEV_LOOPBACK_BIND: "127.0.0.1" });
		expect(config.access.localRole).toBe("viewer");
		expect(config.warnings).toEqual([expect.stringMatching(/^LOCAL_ROLE must be admin or developer or viewer; using viewer/)]);
		expect(readConfig({ LOCAL_ROLE: " Viewer " }).access.localRole).toBe("viewer");
		expect(readConfig({ LOCAL_ROLE: "" }).access.localRole).toBe("developer");
	});

	it("security settings that do not parse read closed, each with a warning naming it", () => {
		const config = readConfig({
			GUARD_MODE: "shadwo",
			DEV_LOOPBACK_BIND: "0.0.0.0",
			OPERATOR_TOKEN_SHA256: "not-a-hash",
			AUDIT_STORE_ARGUMENTS: "yes",
			PUBLIC_URL: "guard.example.com",
			ALLOWED_ORIGINS: "https://ok.example.com, javascript:alert(1)",
		});
		expect(config.gateway.guardMode).toBe("enforce");
		expect(config.access).toMatchObject({ loopbackBind: false, operatorTokenSha256: undefined });
		expect(config.audit.storeArguments).toBe(false);
		expect(config.edge.publicOrigin).toBeUndefined();
		expect([...config.edge.allowedOrigins]).toEqual(["https://ok.example.com"]);
		const named = ["GUARD_MODE", "DEV_LOOPBACK_BIND", "OPERATOR_TOKEN_SHA256", "AUDIT_STORE_ARGUMENTS", "PUBLIC_URL", "ALLOWED_ORIGINS"];
		expect(config.warnings).toHaveLength(named.length);
		expect(new Set(config.warnings.map((w) => /^[A-Z0-9_]+/.exec(w)?.[0]))).toEqual(new Set(named));
	});

	it("an MCP_AUTH_TOKENS that does not parse refuses every request, and the warning never quotes it", () => {
		const config = readConfig({ MCP_AUTH_TOKENS: '{"secret-token-value": 1' });
		expect(config.access.tokens).toEqual({ kind: "invalid", error: "MCP_AUTH_TOKENS is not valid JSON" });
		expect(config.warnings).toEqual([expect.stringContaining("MCP_AUTH_TOKENS is not valid JSON: every request is refused")]);
		expect(JSON.stringify(config.warnings)).not.toContain("secret-token-value");
	});
});

describe("STAGE0_API_KEY", () => {
	it("runs in simulated mode, with a warning, when STAGE0_API_KEY is the example's placeholder", () => {
		const config = readConfig({ STAGE0_API_KEY: "your_api_key_here" });
		expect(config.authority).toEqual({ mode: "simulated" });
		expect(config.warnings).toHaveLength(1);
		expect(config.warnings[0]).toMatch(/STAGE0_API_KEY holds a placeholder .* SIMULATED mode/);
		expect(config.warnings[0]).not.toContain("your_api_key_here");
	});

	it.each(["YOUR_API_KEY_HERE", " your-api-key ", "your_stage0_api_key", "<your key>", "${STAGE0_API_KEY}", "changeme", "xxxxxxxx", "..."])(
		"takes %j for a placeholder",
		(value) => {
			expect(isPlaceholderKey(value)).toBe(true);
			expect(readConfig({ STAGE0_API_KEY: value }).authority.mode).toBe("simulated");
		},
	);

	it.each(["sk-live-0123456789abcdef", "s0_AbCdEf123456", "your-key-3f9a8b7c6d5e4f3a"])("takes %j for a real key", (value) => {
		expect(isPlaceholderKey(value)).toBe(false);
		const config = readConfig({ STAGE0_API_KEY: value });
		expect(config.authority).toMatchObject({ mode: "stage0", apiKey: value });
		expect(config.warnings).toEqual([]);
	});

	it("has no key and no warning when STAGE0_API_KEY is absent or blank", () => {
		for (const env of [{}, { STAGE0_API_KEY: "" }, { STAGE0_API_KEY: "   " }]) {
			expect(readConfig(env)).toMatchObject({ authority: { mode: "simulated" }, warnings: [] });
		}
	});

	it("cannot describe Stage0 mode without a key (a type error)", () => {
		// @ts-expect-error: Stage0 mode without apiKey is not an AuthorityChoice
		const keyless: AuthorityChoice = { mode: "stage0", baseUrl: "https://stage0.test", timeoutMs: 1000 };
		expect(keyless.mode).toBe("stage0");
	});
});
