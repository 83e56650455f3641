/**
 * The approvers' page with an OpenID Connect provider configured (a loopback
 * stand-in, test/support/oidc-provider.ts): a signed-out admin follows an
 * approval link, chooses "Sign in with <provider>", comes back from the
 * provider to that very request, signed in as the provider named them with the
 * role its claims map to, and approves it. Real `wrangler dev`, real Chromium.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, startDevServer } from "../../scripts/lib/dev-server";
import { launchChromium } from "../support/chromium";
import { type OidcProvider, startOidcProvider } from "../support/oidc-provider";
import { TOKENS, tokenTableJson } from "../support/test-tokens";

let server: DevServer;
let provider: OidcProvider;
let browser: Browser;

beforeAll(async () => {
	const port = await freePort();
	const origin = `http://127.0.0.1:${port}`;
	provider = await startOidcProvider({
		clientId: "edge-guard-approvals",
		clientSecret: "oidc-client-secret-for-tests-0123456789",
		redirectUris: [`${origin}/oauth/callback`],
		user: { sub: "u-1001", email: "dana@example.com", email_verified: true, groups: ["guard-admins"] },
	});
	server = await startDevServer({
		port,
		vars: {
			MCP_AUTH_TOKENS: tokenTableJson(),
			PUBLIC_URL: origin,
			OIDC_ISSUER: provider.issuer,
			OIDC_CLIENT_ID: "edge-guard-approvals",
			OIDC_CLIENT_SECRET: "oidc-client-secret-for-tests-0123456789",
			OIDC_ROLE_CLAIM: "groups",
			OIDC_ROLE_MAP: JSON.stringify({ "guard-admins": "admin" }),
		},
	});
	browser = await launchChromium(); // without a browser this fails with the install instruction
});
afterAll(async () => {
	await browser?.close();
	await server?.stop();
	await provider?.close();
});

describe("signing in to the approvals page with the organisation's identity provider", () => {
	it("a signed-out approval link → Sign in with the provider → back on that request, as the provider's person and role", async () => {
		const alice = new Client({ name: "e2e-oidc-alice", version: "1" });
		await alice.connect(
			new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), {
				requestInit: { headers: { authorization: `Bearer ${TOKENS.alice.token}` } },
			}),
		);
		const held = (await alice.callTool({
			name: "publish-content",
			arguments: { content: "Post for the OIDC approver", channel: "blog" },
		})) as {
			structuredContent?: { approval: { id: string; url: string } };
		};
		const approval = held.structuredContent!.approval;

		const page = await browser.newPage();
		await page.goto(approval.url);
		const button = page.locator("#oidc");
		expect(await button.textContent()).toBe(`Sign in with ${new URL(provider.issuer).host}`);
		await button.click();
		const card = page.locator(`#linked #approval-${approval.id}`);
		await card.waitFor();
		expect(page.url()).toBe(approval.url);
		await expect.poll(() => page.textContent("#who")).toBe("Signed in as dana@example.com (admin)");
		expect(
			await page.evaluate(() => ({
				session: sessionStorage.length,
				local: localStorage.length,
				cookies: (globalThis as unknown as { document: { cookie: string } }).document.cookie,
			})),
		).toEqual({ session: 0, local: 0, cookies: "" });

		await card.locator("button.approve").click();
		await card.locator(".confirm button.confirm-yes").click();
		await expect.poll(() => card.locator(".result").textContent()).toContain("Approved publish-content for alice");
		const record = await fetch(`${server.origin}/api/approvals/${approval.id}`, {
			headers: { authorization: `Bearer ${TOKENS.bob.token}` },
		});
		expect(((await record.json()) as { approval: { decided_by: string } }).approval.decided_by).toBe("dana@example.com");
		expect(provider.tokenRequests.length).toBeGreaterThanOrEqual(1);
		await page.close();
		await alice.close();
	});
});
