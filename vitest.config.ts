import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { unstable_readConfig } from "wrangler";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BROKEN_POLICY, TEAM_POLICY } from "./test/support/policies.ts";
import { mcpClientHostsOutbound } from "./test/support/mcp-client-hosts.ts";
import { redirectingOutbound } from "./test/support/redirecting-stage0.ts";
import { operatorHashHex, tokenTableJson } from "./test/support/test-tokens.ts";
import { hermeticBindings, STAGE0_TEST } from "./test/support/worker-env.ts";

// Tests never read a developer's .dev.vars or .env. The plugin loads .dev.vars
// (or, without one, .env) under wrangler.jsonc's vars and has no switch for it,
// but its `miniflare.bindings` win: so every project sets every variable the
// Worker reads (test/support/worker-env.ts), and .env is not read at all
// (CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV, Wrangler's documented switch; it also
// reaches the `wrangler dev` runs of the e2e tests, which ignore both files anyway).
process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = "false";
const WRANGLER_VARS = unstable_readConfig({ config: "./wrangler.jsonc" }).vars;

const STAGE0 = STAGE0_TEST;
/** What the project's launcher attests for a loopback bind (scripts/lib/dev-server.ts); tests reach the Worker in-process. */
const LOOPBACK = { DEV_LOOPBACK_BIND: "127.0.0.1" };
const CEDAR_WASM = "@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm";

/**
 * The whole Worker inside workerd, in one environment: project `worker-<environment>` runs
 * test/worker/<environment>/ with wrangler.jsonc's vars, no secrets, then that environment's own bindings.
 */
function workerProject(
	environment: string,
	bindings: Record<string, string> = {},
	outboundService?: (request: Request) => Promise<Response>,
) {
	return {
		logLevel: "error" as const, // quiet warnings about dependencies' missing source maps
		plugins: [
			cloudflareTest({
				wrangler: { configPath: "./wrangler.jsonc" },
				miniflare: { bindings: hermeticBindings(WRANGLER_VARS, bindings), outboundService },
			}),
		],
		// cedar-wasm's module is imported by a path its package does not export (see src/policy/workerd.ts):
		// wrangler finds it by Node's lookup, vite by this alias.
		resolve: {
			alias: {
				[CEDAR_WASM]: fileURLToPath(import.meta.resolve("@cedar-policy/cedar-wasm/web").replace(/cedar_wasm\.js$/, "cedar_wasm_bg.wasm")),
			},
		},
		// Every project checks that it got exactly the variables it set (test/worker/hermetic-env.test.ts).
		// Generous timeouts: the first request of a file bundles and starts the Worker, slow on a busy machine.
		test: {
			name: `worker-${environment}`,
			include: [`test/worker/${environment}/**/*.test.ts`, "test/worker/hermetic-env.test.ts"],
			testTimeout: 60_000,
			hookTimeout: 60_000,
			// The policy engine (cedar-wasm) is loaded before each file's tests (see the setup file).
			setupFiles: ["./test/worker/support/warm-policy.ts"],
		},
	};
}

export default defineConfig({
	logLevel: "error",
	test: {
		// The server logs a JSON line per decision: show console output of failed tests only.
		silent: "passed-only",
		projects: [
			// Node, no Worker: every test outside test/worker and test/e2e, in the folder of the source it tests
			// (test/guard for src/guard, test/policy for src/policy, test/config.test.ts for src/config.ts, ...).
			{
				test: {
					name: "unit",
					environment: "node",
					include: ["test/**/*.test.ts"],
					exclude: ["test/worker/**", "test/e2e/**"],
				},
			},
			// Simulated mode, loopback callers (as `wrangler dev` on 127.0.0.1): routing, MCP, Durable Objects.
			workerProject("simulated", { ...LOOPBACK }),
			// Loopback-only, started as `npm run dev` does: with an approver link's secret (its SHA-256).
			workerProject("operator", { ...LOOPBACK, OPERATOR_TOKEN_SHA256: operatorHashHex() }),
			// Remote mode: Stage0 mocked at fetch, a short timeout; redirecting hosts behind the runtime's own fetch.
			workerProject("stage0", { ...STAGE0, ...LOOPBACK, STAGE0_TIMEOUT_MS: "300" }, redirectingOutbound()),
			// Bearer tokens configured (simulated mode).
			workerProject("tokens", {
				MCP_AUTH_TOKENS: tokenTableJson(),
				APPROVAL_TTL_SECONDS: "900",
				// A stray approver-link hash must mean nothing once tokens are configured.
				OPERATOR_TOKEN_SHA256: operatorHashHex(),
			}),
			// OAuth sign-in beside the bearer tokens: an MCP client's metadata document served from Node.
			workerProject("oauth", { MCP_AUTH_TOKENS: tokenTableJson() }, mcpClientHostsOutbound()),
			// Remote mode with a low rate limit and arguments kept in the audit trail.
			workerProject("limits", {
				...STAGE0,
				...LOOPBACK,
				RATE_LIMIT_PER_MINUTE: "5",
				AUDIT_STORE_ARGUMENTS: "true",
			}),
			// A team's own policy set in GUARD_POLICY (simulated mode, loopback callers).
			workerProject("team-policy", { ...LOOPBACK, GUARD_POLICY: TEAM_POLICY }),
			// A GUARD_POLICY that does not validate: everything is refused.
			workerProject("broken-policy", { ...LOOPBACK, GUARD_POLICY: BROKEN_POLICY }),
			{
				// Real processes: wrangler dev, the Stage0 stand-in, mcp-remote, Chromium.
				test: {
					name: "e2e",
					environment: "node",
					include: ["test/e2e/**/*.test.ts"],
					testTimeout: 60_000,
					hookTimeout: 150_000, // starting wrangler dev (see scripts/lib/dev-server.ts)
					fileParallelism: false,
				},
			},
		],
	},
});
