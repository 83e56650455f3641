import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { redirectingOutbound } from "./test/support/redirecting-stage0.ts";
import { tokenTableJson } from "./test/support/test-tokens.ts";

const STAGE0 = { STAGE0_API_KEY: "sk-test-0123456789abcdef", STAGE0_BASE_URL: "https://stage0.test" };

/** The whole Worker inside workerd, with some bindings set on top of wrangler.toml. */
function workerProject(
	name: string,
	include: string[],
	bindings: Record<string, string> = {},
	exclude: string[] = [],
	outboundService?: (request: Request) => Promise<Response>,
) {
	return {
		logLevel: "error" as const, // quiet warnings about dependencies' missing source maps
		plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings, outboundService } })],
		test: { name, include, exclude },
	};
}

export default defineConfig({
	logLevel: "error",
	test: {
		// The server logs a JSON line per decision: show console output of failed tests only.
		silent: "passed-only",
		projects: [
			// The guard core and the tool definitions: pure modules, no Worker.
			{ test: { name: "unit", environment: "node", include: ["test/guard/**/*.test.ts", "test/tools/**/*.test.ts", "test/gateway/**/*.test.ts"] } },
			// Simulated mode, loopback callers: routing, MCP, Durable Objects.
			workerProject("worker", ["test/worker/**/*.test.ts"], {}, ["test/worker/stage0/**", "test/worker/auth/**", "test/worker/limits/**"]),
			// Remote mode: Stage0 mocked at fetch, a short timeout; redirecting hosts behind the runtime's own fetch.
			workerProject("worker-stage0", ["test/worker/stage0/**/*.test.ts"], { ...STAGE0, STAGE0_TIMEOUT_MS: "300" }, [], redirectingOutbound()),
			// Bearer tokens configured (simulated mode).
			workerProject("worker-auth", ["test/worker/auth/**/*.test.ts"], { MCP_AUTH_TOKENS: tokenTableJson(), APPROVAL_TTL_SECONDS: "900" }),
			// Remote mode with a low rate limit and arguments kept in the audit trail.
			workerProject("worker-limits", ["test/worker/limits/**/*.test.ts"], { ...STAGE0, RATE_LIMIT_PER_MINUTE: "5", AUDIT_STORE_ARGUMENTS: "true" }),
			{
				// Real processes: wrangler dev, the Stage0 stand-in, mcp-remote, Chromium.
				test: {
					name: "e2e",
					environment: "node",
					include: ["test/e2e/**/*.test.ts"],
					testTimeout: 60_000,
					hookTimeout: 90_000,
					fileParallelism: false,
				},
			},
		],
	},
});
