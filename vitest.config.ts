import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { tokenTableJson } from "./test/support/test-tokens";

export default defineConfig({
	// Quiet vite's warnings about dependencies' missing source maps; errors still show.
	logLevel: "error",
	test: {
		// The server logs a JSON line per decision: show console output of failed tests only.
		silent: "passed-only",
		projects: [
			{
				// The guard core and the tool definitions: pure modules, no Worker.
				test: { name: "unit", environment: "node", include: ["test/guard/**/*.test.ts", "test/tools/**/*.test.ts"] },
			},
			{
				// The whole Worker, inside workerd: routing, MCP, Durable Objects.
				logLevel: "error",
				plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
				test: {
					name: "worker",
					include: ["test/worker/**/*.test.ts"],
					exclude: ["test/worker/stage0/**", "test/worker/auth/**", "test/worker/limits/**"],
				},
			},
			{
				// The same Worker with bearer tokens configured (simulated mode).
				logLevel: "error",
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						miniflare: { bindings: { MCP_AUTH_TOKENS: tokenTableJson(), APPROVAL_TTL_SECONDS: "900" } },
					}),
				],
				test: { name: "worker-auth", include: ["test/worker/auth/**/*.test.ts"] },
			},
			{
				// The same Worker with a Stage0 key: remote mode, Stage0 mocked at fetch.
				logLevel: "error",
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						miniflare: {
							bindings: { STAGE0_API_KEY: "sk-test-0123456789abcdef", STAGE0_BASE_URL: "https://stage0.test", STAGE0_TIMEOUT_MS: "300" },
						},
					}),
				],
				test: { name: "worker-stage0", include: ["test/worker/stage0/**/*.test.ts"] },
			},
			{
				// Stage0 mode with a low rate limit and arguments kept in the audit trail.
				logLevel: "error",
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						miniflare: {
							bindings: {
								STAGE0_API_KEY: "sk-test-0123456789abcdef",
								STAGE0_BASE_URL: "https://stage0.test",
								RATE_LIMIT_PER_MINUTE: "5",
								AUDIT_STORE_ARGUMENTS: "true",
							},
						},
					}),
				],
				test: { name: "worker-limits", include: ["test/worker/limits/**/*.test.ts"] },
			},
			{
				// Real processes: wrangler dev, the Stage0 stand-in, mcp-remote.
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
