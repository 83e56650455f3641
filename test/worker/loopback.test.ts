/** Without MCP_AUTH_TOKENS: loopback is served as 'local', anything else is refused. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const initialize = JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

const post = (origin: string, path = "/mcp", headers: Record<string, string> = {}) =>
	exports.default.fetch(
		new Request(`${origin}${path}`, {
			method: "POST",
			headers: { accept: "application/json, text/event-stream", "content-type": "application/json", ...headers },
			body: initialize,
		}),
	);

describe("no MCP_AUTH_TOKENS", () => {
	it.each(["http://localhost", "http://127.0.0.1:8787", "http://[::1]:8787"])("serves loopback %s", async (origin) => {
		const res = await post(origin);
		expect(res.status).toBe(200);
		await res.body?.cancel();
	});

	it("refuses a loopback host name from a client address that is not loopback", async () => {
		const res = await post("http://localhost:8787", "/mcp", { "cf-connecting-ip": "203.0.113.7" });
		expect(res.status).toBe(401);
		const ok = await post("http://localhost:8787", "/mcp", { "cf-connecting-ip": "127.0.0.1" });
		expect(ok.status).toBe(200);
		await ok.body?.cancel();
	});

	it.each(["https://guard.example.com", "http://10.0.0.5", "http://localhost.evil.test"])(
		"refuses %s with 401 and says how to configure tokens",
		async (origin) => {
			for (const path of ["/mcp", "/sse", "/api/approvals"]) {
				const res = await post(origin, path);
				expect(res.status).toBe(401);
				expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
				expect((await res.json<{ message: string }>()).message).toMatch(/MCP_AUTH_TOKENS.*token:new/);
			}
		},
	);
});
