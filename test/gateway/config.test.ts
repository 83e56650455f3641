import { describe, expect, it } from "vitest";
import { readConfig, type VariableEnv } from "../../src/config";
import { scrubHeaderValues } from "../../src/gateway/config";
import { sideEffectsOf, upstreamToolDefinition } from "../../src/gateway/tools";

/** The gateway's part of the configuration these variables make. */
const readGatewayConfig = (env: VariableEnv) => readConfig(env).gateway;

describe("the gateway's configuration", () => {
	it("reads one upstream from UPSTREAM_MCP_URL and its headers, named 'upstream' unless UPSTREAM_NAME says otherwise", () => {
		const one = readGatewayConfig({
			UPSTREAM_MCP_URL: "https://mcp.example.com/mcp",
			UPSTREAM_MCP_HEADERS: '{"Authorization":"Bearer abc123"}',
		});
		expect(one.upstreams).toEqual([
			{ name: "upstream", url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer abc123" }, timeoutMs: 30000 },
		]);
		expect(readGatewayConfig({ UPSTREAM_MCP_URL: "https://x.test/mcp", UPSTREAM_NAME: "github" }).upstreams[0].name).toBe("github");
	});

	it("reads several from UPSTREAMS, each with its own headers and timeout", () => {
		const c = readGatewayConfig({
			UPSTREAMS: JSON.stringify({
				a: { url: "http://127.0.0.1:1/mcp", timeout_ms: 500 },
				b: { url: "https://b.test/mcp", headers: { "X-Key": "k" } },
			}),
			UPSTREAM_TIMEOUT_MS: "2000",
		});
		expect(c.upstreams.map((u) => [u.name, u.timeoutMs, u.headers])).toEqual([
			["a", 500, {}],
			["b", 2000, { "X-Key": "k" }],
		]);
	});

	it("turns a bad entry into an upstream in error, without quoting its headers, and keeps the others", () => {
		const c = readGatewayConfig({
			UPSTREAMS: JSON.stringify({
				"bad.name": { url: "https://x.test" },
				noturl: { url: "ftp://x" },
				hdr: { url: "https://x.test", headers: { A: 1 } },
				ok: { url: "https://ok.test" },
			}),
			UPSTREAM_MCP_URL: "https://y.test/mcp",
			UPSTREAM_MCP_HEADERS: "{not json secret-value",
		});
		expect(c.upstreams.filter((u) => !u.error).map((u) => u.name)).toEqual(["ok"]);
		expect(c.upstreams.map((u) => u.error ?? "").join(" ")).not.toContain("secret-value");
		expect(readGatewayConfig({ UPSTREAMS: "[1]" }).upstreams[0].error).toMatch(/JSON object/);
	});

	it("defaults to enforce mode and built-in tools; only the exact words change them", () => {
		expect(readGatewayConfig({})).toMatchObject({ guardMode: "enforce", builtinTools: true, refreshSeconds: 300, upstreams: [] });
		expect(readGatewayConfig({ GUARD_MODE: " Shadow " }).guardMode).toBe("shadow");
		expect(readGatewayConfig({ GUARD_MODE: "shadwo" }).guardMode).toBe("enforce");
		expect(readGatewayConfig({ BUILTIN_TOOLS: "false" }).builtinTools).toBe(false);
	});

	it("scrubs every upstream's header values, with or without the Bearer scheme", () => {
		const c = readGatewayConfig({
			UPSTREAM_MCP_URL: "https://y.test/mcp",
			UPSTREAM_MCP_HEADERS: '{"Authorization":"Bearer tok-123456"}',
		});
		expect(scrubHeaderValues("got Bearer tok-123456 and tok-123456", c.upstreams)).toBe("got [redacted] and [redacted]");
	});
});

describe("what Stage0 is told about an upstream tool", () => {
	it("derives side effects from annotations; no annotations means every side effect, never read-only", () => {
		expect(sideEffectsOf({ readOnlyHint: true, openWorldHint: true })).toEqual([]);
		expect(sideEffectsOf({ readOnlyHint: false, destructiveHint: false, openWorldHint: false })).toEqual(["write"]);
		expect(sideEffectsOf({ readOnlyHint: false, destructiveHint: true, openWorldHint: false })).toEqual(["write", "destructive"]);
		expect(sideEffectsOf({ destructiveHint: false })).toEqual(["write", "external"]);
		expect(sideEffectsOf(undefined)).toEqual(["write", "destructive", "external"]);
		expect(sideEffectsOf({})).toEqual(["write", "destructive", "external"]);
	});

	it("names the tool <upstream>.<tool>, asks with its title and redacted arguments, and puts upstream and tool in the context", () => {
		const def = upstreamToolDefinition(
			{ upstream: "files", forward: async () => ({}) },
			{ name: "search", title: "Search records", inputSchema: { type: "object" }, annotations: { readOnlyHint: true } },
		)!;
		expect(def).toMatchObject({ name: "files.search", server: "files", sideEffects: [], kind: "action" });
		const intent = def.intent({ query: "q", token: "secret-value" });
		expect(intent.goal).toContain('"Search records" (search) of the upstream MCP server "files"');
		expect(intent.goal).not.toContain("secret-value");
		expect(intent.context).toEqual({ upstream: "files", tool: "search" });
		expect(
			upstreamToolDefinition({ upstream: "files", forward: async () => ({}) }, { name: "bad name/x", inputSchema: { type: "object" } }),
		).toBeUndefined();
	});
});
