/**
 * Without MCP_AUTH_TOKENS: served as 'local' only when the launcher attests a
 * loopback bind (DEV_LOOPBACK_BIND, set for this project as `npm run dev` sets it),
 * and only under a loopback host name. Nothing a client sends can stand in for it.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, connect, heldApproval, workerWith } from "../support/mcp";

const initialize = JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

const post = (origin: string, path = "/mcp", headers: Record<string, string> = {}, via = (r: Request) => exports.default.fetch(r)) =>
	via(
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

	it.each([
		["no attestation", undefined],
		["a bind that is not loopback", "0.0.0.0"],
		["garbage", "yes"],
	])("with %s, serves no one, whatever the client claims (CF-Connecting-IP, Host)", async (_n, bind) => {
		const via = workerWith({ DEV_LOOPBACK_BIND: bind });
		for (const claim of ["127.0.0.1", "::1", "127.9.9.9", "::ffff:127.0.0.1"]) {
			for (const path of ["/mcp", "/sse", "/api/approvals", "/api/audit"]) {
				const res = await post("http://localhost:8787", path, { "cf-connecting-ip": claim, host: "localhost" }, via);
				expect(res.status).toBe(503);
				const body = await res.json<{ error: string; message: string }>();
				expect(body.error).toBe("loopback_not_attested");
				expect(body.message).toMatch(/MCP_AUTH_TOKENS/);
				expect(body.message).toMatch(/npm run dev/);
			}
		}
	});

	it("builds approval links from PUBLIC_URL when set, else from the loopback origin", async () => {
		const client = await connect();
		const held = await call(client, "publish-content", { content: "hello", channel: "blog" });
		expect(heldApproval(held).url).toMatch(/^http:\/\/localhost\/approvals#/);
		await client.close();
		const configured = await connect("streamable", undefined, workerWith({ PUBLIC_URL: "https://guard.example.com/" }));
		const again = await call(configured, "publish-content", { content: "hello again", channel: "blog" });
		expect(heldApproval(again).url).toMatch(/^https:\/\/guard\.example\.com\/approvals#/);
		await configured.close();
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
