/**
 * OAuth sign-in end to end: `wrangler dev` with an OpenID Connect provider
 * stand-in on loopback; the official MCP SDK client (dynamic registration,
 * PKCE, refresh) and `mcp-remote` sign in through Debian's Chromium, which
 * goes to the provider and back and approves the consent page; then tools are
 * called as the person the provider named, with the role its groups map to.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, startDevServer } from "../../scripts/lib/dev-server";
import { launchChromium } from "../support/chromium";
import { InMemoryOAuthClient } from "../support/oauth-client";
import { type OidcProvider, startOidcProvider } from "../support/oidc-provider";
import { tokenTableJson, TOKENS } from "../support/test-tokens";

const CLIENT_SECRET = "e2e-oidc-client-secret-0123456789";
let provider: OidcProvider;
let server: DevServer;
let browser: Browser;
let callback: { server: Server; url: string; next(): Promise<string> };
const scratch = mkdtempSync(join(tmpdir(), "edge-guard-oauth-e2e-"));

/** Where the SDK client's authorization responses arrive: each one's code, in order. */
async function startCallbackServer() {
	const port = await freePort();
	let waiting: ((code: string) => void) | undefined;
	const server = createServer((req, res) => {
		const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
		res.writeHead(200, { "content-type": "text/plain" }).end("Signed in. You may close this window.");
		waiting?.(url.searchParams.get("code") ?? `error:${url.searchParams.get("error")}`);
	});
	await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
	return { server, url: `http://127.0.0.1:${port}/callback`, next: () => new Promise<string>((r) => (waiting = r)) };
}

/** What the consent page showed, read from the page a person sees. */
interface ConsentSeen {
	client: string;
	redirectHost: string;
	principal: string;
	role: string;
}

/** A person in Chromium: goes to the authorization URL, through the provider, and approves the consent page. */
async function approveInChromium(url: string): Promise<ConsentSeen> {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		await page.goto(url, { timeout: 60_000 });
		try {
			await page.waitForSelector("#approve", { timeout: 30_000 });
		} catch {
			throw new Error(`no consent page: at ${page.url()}: ${((await page.textContent("body")) ?? "").slice(0, 500)}`);
		}
		const seen = {
			client: (await page.textContent("h1 span")) ?? "",
			redirectHost: (await page.textContent("#redirect-host")) ?? "",
			principal: (await page.textContent("#principal")) ?? "",
			role: (await page.textContent("#role")) ?? "",
		};
		// The consent page is served at the guard's /oauth/callback; approving leaves the guard for the client's redirect URI.
		const guard = new URL(server.origin).origin;
		await Promise.all([page.waitForURL((u) => u.origin !== guard, { timeout: 60_000 }), page.click("#approve")]);
		return seen;
	} finally {
		await context.close();
	}
}

/** The SDK client whose person approves in Chromium: the consent page's facts arrive in `consent`. */
class ChromiumDrivenClient extends InMemoryOAuthClient {
	consent?: Promise<ConsentSeen>;

	constructor() {
		super("E2E SDK Client", callback.url);
	}

	redirectToAuthorization(url: URL) {
		this.consent = approveInChromium(url.toString());
	}
}

beforeAll(async () => {
	const port = await freePort();
	const origin = `http://127.0.0.1:${port}`;
	provider = await startOidcProvider({
		clientId: "edge-guard",
		clientSecret: CLIENT_SECRET,
		redirectUris: [`${origin}/oauth/callback`],
		user: { sub: "00u-alice", email: "alice@example.com", email_verified: true, name: "Alice", groups: ["everyone", "engineering"] },
	});
	callback = await startCallbackServer();
	browser = await launchChromium();
	server = await startDevServer({
		port,
		vars: {
			MCP_AUTH_TOKENS: tokenTableJson(),
			OIDC_ISSUER: provider.issuer,
			OIDC_CLIENT_ID: "edge-guard",
			OIDC_CLIENT_SECRET: CLIENT_SECRET,
			OIDC_ROLE_CLAIM: "groups",
			OIDC_ROLE_MAP: JSON.stringify({ engineering: "developer", "guard-admins": "admin" }),
		},
	});
});
afterAll(async () => {
	await server?.stop();
	await browser?.close();
	await provider?.close();
	callback?.server.close();
	rmSync(scratch, { recursive: true, force: true });
});

type Result = { structuredContent?: Record<string, unknown>; isError?: boolean };

describe("OAuth through the organisation's OIDC provider, in Chromium", () => {
	let sdk: ChromiumDrivenClient;

	it("signs in with the MCP SDK client, shows the consent page, and calls tools as the provider's person and role", async () => {
		sdk = new ChromiumDrivenClient();
		const transport = new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { authProvider: sdk });
		const code = callback.next();
		await expect(new Client({ name: "e2e-oauth", version: "1" }).connect(transport)).rejects.toThrow(/Unauthorized/);
		const seen = await sdk.consent!;
		expect(seen).toEqual({ client: "E2E SDK Client", redirectHost: "127.0.0.1", principal: "alice@example.com", role: "developer" });
		await transport.finishAuth(await code);

		const client = new Client({ name: "e2e-oauth", version: "1" });
		await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { authProvider: sdk }));
		expect((await client.listTools()).tools).toHaveLength(7); // a developer's tools
		const ok = (await client.callTool({ name: "research-topic", arguments: { topic: "oauth" } })) as Result;
		expect(ok.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		const audit = (await client.callTool({ name: "audit-log", arguments: { limit: 5 } })) as Result;
		const records = (audit.structuredContent as { records: { principal: string }[] }).records;
		expect(records.length).toBeGreaterThan(0);
		expect(records.every((r) => r.principal === "alice@example.com")).toBe(true);
		await client.close();
	}, 240_000);

	it("refreshes the token, and the new one works", async () => {
		const before = sdk.tokens()!;
		expect(await auth(sdk, { serverUrl: `${server.origin}/mcp` })).toBe("AUTHORIZED");
		expect(sdk.tokens()!.access_token).not.toBe(before.access_token);
		const client = new Client({ name: "e2e-oauth-refreshed", version: "1" });
		await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { authProvider: sdk }));
		expect((await client.listTools()).tools).toHaveLength(7);
		await client.close();
	});

	it("refuses the token once revoked: 401 with resource_metadata", async () => {
		const token = sdk.tokens()!.access_token;
		const revoked = await fetch(`${server.origin}/oauth/token`, {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded" },
			body: new URLSearchParams({ token, client_id: sdk.clientInformation()!.client_id }),
		});
		expect(revoked.status).toBe(200);
		const res = await fetch(`${server.origin}/mcp`, {
			method: "POST",
			headers: {
				authorization: `Bearer ${token}`,
				"content-type": "application/json",
				accept: "application/json, text/event-stream",
			},
			body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
		});
		expect(res.status).toBe(401);
		expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
		expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="${server.origin}/.well-known/oauth-protected-resource/mcp"`);
	});

	it("lets mcp-remote complete its OAuth flow (its browser step in Chromium), then list and call tools", async () => {
		const urls = join(scratch, "opened-urls");
		const opener = join(scratch, "browser.sh");
		// mcp-remote opens the browser with `open`, whose xdg-open runs $BROWSER: here, a script that hands the URL to the test.
		writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${urls}'\n`);
		chmodSync(opener, 0o755);
		const remotePort = await freePort();
		const transport = new StdioClientTransport({
			command: resolve("node_modules/.bin/mcp-remote"),
			args: [`${server.origin}/mcp`, String(remotePort), "--host", "127.0.0.1", "--transport", "http-only"],
			env: {
				...(process.env as Record<string, string>),
				BROWSER: opener,
				DISPLAY: "",
				MCP_REMOTE_CONFIG_DIR: join(scratch, "mcp-remote"),
			},
			stderr: "pipe",
		});
		const client = new Client({ name: "e2e-mcp-remote-oauth", version: "1" });
		const connected = client.connect(transport);
		const url = await waitFor(() => (existsSync(urls) ? readFileSync(urls, "utf8").trim().split("\n")[0] : undefined), 60_000);
		const seen = await approveInChromium(url);
		expect(seen.principal).toBe("alice@example.com");
		expect(seen.redirectHost).toBe("127.0.0.1");
		await connected;
		expect((await client.listTools()).tools).toHaveLength(7);
		const r = (await client.callTool({ name: "research-topic", arguments: { topic: "mcp-remote" } })) as Result;
		expect(r.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		await client.close();
	}, 150_000);

	it("lets an admin revoke the provider's person's grants: access 401, refresh invalid_grant, the open session refused", async () => {
		// The README's case: a person removed at the provider keeps a refreshable grant until an admin revokes it here.
		const person = new ChromiumDrivenClient();
		const transport = new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { authProvider: person });
		const code = callback.next();
		await expect(new Client({ name: "e2e-oauth-revoked", version: "1" }).connect(transport)).rejects.toThrow(/Unauthorized/);
		await person.consent!;
		await transport.finishAuth(await code);
		const open = new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { authProvider: person });
		const client = new Client({ name: "e2e-oauth-revoked", version: "1" });
		await client.connect(open);
		const { access_token: access, refresh_token: refresh } = person.tokens()!;
		const clientId = person.clientInformation()!.client_id;

		const admin = { authorization: `Bearer ${TOKENS.bob.token}` };
		const principal = encodeURIComponent("alice@example.com");
		const listed = (await (await fetch(`${server.origin}/api/grants?principal=${principal}`, { headers: admin })).json()) as {
			grants: { id: string; via: string; client_id: string; client_name: string }[];
		};
		expect(listed.grants.find((g) => g.client_id === clientId)).toMatchObject({ via: "oidc", client_name: "E2E SDK Client" });
		const revoked = await fetch(`${server.origin}/api/grants?principal=${principal}`, { method: "DELETE", headers: admin });
		expect(revoked.status).toBe(200);
		expect(((await revoked.json()) as { revoked: { client_id: string }[] }).revoked.map((g) => g.client_id)).toContain(clientId);

		const next = await fetch(`${server.origin}/mcp`, {
			method: "POST",
			headers: {
				authorization: `Bearer ${access}`,
				"content-type": "application/json",
				accept: "application/json, text/event-stream",
				"mcp-session-id": open.sessionId!,
				"mcp-protocol-version": "2025-06-18",
			},
			body: JSON.stringify({
				jsonrpc: "2.0",
				id: 9,
				method: "tools/call",
				params: { name: "research-topic", arguments: { topic: "after" } },
			}),
		});
		expect(next.status).toBe(401);
		const refreshed = await fetch(`${server.origin}/oauth/token`, {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded" },
			body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh!, client_id: clientId }),
		});
		expect(refreshed.status).toBe(400);
		expect(((await refreshed.json()) as { error: string }).error).toBe("invalid_grant");
		await client.close();
	}, 150_000);
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = probe();
		if (value) return value;
		if (Date.now() > deadline) throw new Error("timed out waiting");
		await new Promise((r) => setTimeout(r, 200));
	}
}
