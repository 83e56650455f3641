import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		projects: [
			{
				// The guard core and the tool definitions: pure modules, no Worker.
				test: { name: "unit", environment: "node", include: ["test/guard/**/*.test.ts", "test/tools/**/*.test.ts"] },
			},
			{
				// The whole Worker, inside workerd: routing, MCP, Durable Objects.
				plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
				test: { name: "worker", include: ["test/worker/**/*.test.ts"] },
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
