/**
 * The approvers' page in a real browser (Debian's Chromium, headless, driven by
 * playwright-core): a developer's publish is held over MCP, another admin
 * approves it on the page, and the developer's retry then goes through, once.
 */
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, startDevServer } from "../../scripts/lib/dev-server";
import { launchChromium } from "../support/chromium";
import { TOKENS, tokenTableJson } from "../support/test-tokens";
import { heldApproval, type ToolResult } from "../support/results";

let server: DevServer;
let browser: Browser;

beforeAll(async () => {
	// As on a deployed server, approval links come from PUBLIC_URL (never from a request's Host).
	const port = await freePort();
	server = await startDevServer({ port, vars: { MCP_AUTH_TOKENS: tokenTableJson(), PUBLIC_URL: `http://127.0.0.1:${port}` } });
});
afterAll(async () => {
	await server?.stop();
});

async function connectAs(who: keyof typeof TOKENS) {
	const client = new Client({ name: `e2e-${who}`, version: "1" });
	await client.connect(
		new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), {
			requestInit: { headers: { authorization: `Bearer ${TOKENS[who].token}` } },
		}),
	);
	return client;
}

type Result = ToolResult;

describe("/approvals in headless Chromium", () => {
	// Without a browser this fails with the install instruction (never skipped).
	beforeAll(async () => {
		browser = await launchChromium();
	});
	afterAll(async () => {
		await browser?.close();
	});

	it("an admin approves a held publish on the page; the agent's retry then succeeds once", async () => {
		const alice = await connectAs("alice");
		// Arguments are attacker-controlled: the page must show them as text.
		const args = { content: `Launch post <img src=x onerror="window.__xss=1"> <b>bold</b>`, channel: "blog" };
		const held = (await alice.callTool({ name: "publish-content", arguments: args })) as Result;
		expect(held.structuredContent).toMatchObject({ verdict: "DENY", executed: false });
		const approval = heldApproval(held);
		expect(approval.url).toBe(`${server.origin}/approvals#${approval.id}`);

		const page = await browser.newPage();
		await page.goto(approval.url);
		await page.fill("#token", TOKENS.bob.token);
		await page.click("#signin button[type=submit]");
		await page.waitForSelector(`#approval-${approval.id}`);
		await expect.poll(() => page.textContent("#who")).toBe("Signed in as bob (admin)");
		expect(await page.isVisible("#signin")).toBe(false);
		expect(page.url()).not.toContain(TOKENS.bob.token);
		expect(await page.evaluate(() => sessionStorage.getItem("stage0-guard-token"))).toBe(TOKENS.bob.token);

		const card = page.locator(`#approval-${approval.id}`);
		await expect.poll(() => card.getAttribute("class")).toContain("highlight");
		const text = await card.innerText();
		expect(text).toContain("publish-content");
		expect(text).toContain("alice (developer)");
		expect(text).toContain("SIDE_EFFECTS_NEED_GUARDRAILS");
		expect(await card.locator("pre.args").innerText()).toContain('<img src=x onerror=\\"window.__xss=1\\">');
		expect(await card.locator("img, b").count()).toBe(0);
		expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();

		await card.locator("input.note").fill("read it, fine to publish");
		await card.locator("button.approve").click();
		await card.locator(".confirm button.confirm-yes").click();
		// the result is shown on the card the admin clicked
		await expect.poll(() => card.locator(".result").textContent()).toContain("Approved publish-content for alice");
		expect(await card.locator(".badge").first().textContent()).toBe("approved");

		const done = (await alice.callTool({ name: "publish-content", arguments: { ...args, approvalId: approval.id } })) as Result;
		expect(done.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		const again = (await alice.callTool({ name: "publish-content", arguments: { ...args, approvalId: approval.id } })) as Result;
		expect(again.structuredContent).toMatchObject({ verdict: "DENY", executed: false });

		// the decision is on record with who and the note
		await page.selectOption("#filter", "used");
		await page.waitForSelector(`#approval-${approval.id}`);
		expect(await page.locator(`#approval-${approval.id}`).innerText()).toContain("bob");
		await page.close();
		await alice.close();
	});

	it("shows the requester their own request without approve buttons", async () => {
		const bob = await connectAs("bob");
		const held = (await bob.callTool({ name: "publish-content", arguments: { content: "admin post", channel: "news" } })) as Result;
		const { id } = heldApproval(held);
		const page = await browser.newPage();
		await page.goto(`${server.origin}/approvals`);
		await page.fill("#token", TOKENS.bob.token);
		await page.click("#signin button[type=submit]");
		await page.waitForSelector(`#approval-${id}`);
		const card = page.locator(`#approval-${id}`);
		expect(await card.locator("button.approve").count()).toBe(0);
		expect(await card.innerText()).toContain("another admin must decide it");
		await page.close();
		await bob.close();
	});

	it("says so when the token is wrong, and keeps no token", async () => {
		const page = await browser.newPage();
		await page.goto(`${server.origin}/approvals`);
		await page.fill("#token", "sg_wrong_token_0000000000000000");
		await page.click("#signin button[type=submit]");
		await expect.poll(() => page.textContent("#status")).toContain("Unknown bearer token");
		expect(await page.evaluate(() => sessionStorage.getItem("stage0-guard-token"))).toBeNull();
		expect(await page.isVisible("#signin")).toBe(true);
		await page.close();
	});
});

describe("mcp-remote with a bearer token (the Claude Desktop set-up of the README)", () => {
	it("passes the token header and gets the caller's role and tools", async () => {
		const client = new Client({ name: "e2e-mcp-remote-token", version: "1" });
		await client.connect(
			new StdioClientTransport({
				command: resolve("node_modules/.bin/mcp-remote"),
				args: [`${server.origin}/mcp`, "--allow-http", "--transport", "http-only", "--header", "Authorization: Bearer ${MCP_TOKEN}"],
				env: {
					...(process.env as Record<string, string>),
					MCP_TOKEN: TOKENS.victor.token,
					MCP_REMOTE_CONFIG_DIR: resolve(".wrangler/mcp-remote-e2e-token"),
				},
				stderr: "pipe",
			}),
		);
		const { tools } = await client.listTools();
		expect(tools.map((t) => t.name).sort()).toEqual(["audit-log", "check-authorization", "research-topic"]);
		await client.close();
	});
});
