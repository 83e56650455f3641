/**
 * What OAuth refuses, each with the error the specifications name: a token
 * for another resource (RFC 8707), an expired one (RFC 6750 invalid_token), a
 * redirect URI that does not match exactly, PKCE `plain`, a replayed code
 * (invalid_grant), forged consent and sign-in forms, a role that lacks the
 * right (insufficient_scope); and the framing and caching the pages refuse.
 */
import { describe, expect, it } from "vitest";
import { tokenTableJson, TOKENS } from "../../support/test-tokens";
import { workerWith } from "../support/mcp";
import {
	authorizeUrl,
	Browser,
	codeFor,
	env,
	exchange,
	hidden,
	ORIGIN,
	pkce,
	REDIRECT_URI,
	register,
	signInAndConsent,
	viaWorker,
	withBearer,
} from "./support";

async function tokensFor(who: keyof typeof TOKENS, resource?: string) {
	const clientId = await register();
	const { verifier, challenge } = await pkce();
	const { code } = await codeFor(TOKENS[who].token, { clientId, challenge, resource });
	const res = await exchange({
		grant_type: "authorization_code",
		code,
		redirect_uri: REDIRECT_URI,
		client_id: clientId,
		code_verifier: verifier,
	});
	expect(res.status).toBe(200);
	return { clientId, access: res.body.access_token as string, refresh: res.body.refresh_token as string };
}

describe("resource binding (RFC 8707)", () => {
	it("refuses at /mcp a token issued for /sse, with 401 invalid_token, and accepts it at /sse", async () => {
		const { access } = await tokensFor("alice", `${ORIGIN}/sse`);
		const atMcp = await withBearer("/mcp", access);
		expect(atMcp.status).toBe(401);
		expect(atMcp.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
		expect(await atMcp.json()).toMatchObject({ error: "invalid_token", message: expect.stringMatching(/another resource/) });
		const atSse = await withBearer("/sse", access);
		expect(atSse.status).toBe(200);
		await atSse.body?.cancel();
	});

	it("refuses a resource this server does not host with invalid_target", async () => {
		const clientId = await register();
		const { challenge } = await pkce();
		const res = await new Browser().go(authorizeUrl({ clientId, challenge, state: "s", resource: "https://other.example/mcp" }));
		expect(res.status).toBe(302);
		expect(new URL(res.headers.get("location")!).searchParams.get("error")).toBe("invalid_target");
	});
});

describe("tokens", () => {
	it("refuses an expired access token with 401 invalid_token and the resource's metadata", async () => {
		const { access } = await tokensFor("alice");
		// Time passes: the token's record says it expired a second ago.
		const [userId, grantId] = access.split(":");
		const { keys } = await env.OAUTH_KV.list({ prefix: `token:${userId}:${grantId}:` });
		expect(keys).toHaveLength(1);
		const record = (await env.OAUTH_KV.get(keys[0].name, "json")) as { expiresAt: number };
		await env.OAUTH_KV.put(keys[0].name, JSON.stringify({ ...record, expiresAt: Math.floor(Date.now() / 1000) - 1 }));
		const res = await withBearer("/mcp", access);
		expect(res.status).toBe(401);
		expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
		expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/mcp"`);
	});

	it("refuses a replayed authorization code with invalid_grant", async () => {
		const clientId = await register();
		const { verifier, challenge } = await pkce();
		const { code } = await codeFor(TOKENS.alice.token, { clientId, challenge });
		const fields = { grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, client_id: clientId, code_verifier: verifier };
		expect((await exchange(fields)).status).toBe(200);
		const replay = await exchange(fields);
		expect(replay.status).toBe(400);
		expect(replay.body.error).toBe("invalid_grant");
	});

	it("refuses a code with the wrong PKCE verifier with invalid_grant", async () => {
		const clientId = await register();
		const { challenge } = await pkce();
		const { code } = await codeFor(TOKENS.alice.token, { clientId, challenge });
		const res = await exchange({
			grant_type: "authorization_code",
			code,
			redirect_uri: REDIRECT_URI,
			client_id: clientId,
			code_verifier: (await pkce()).verifier,
		});
		expect(res.status).toBe(400);
		expect(res.body.error).toBe("invalid_grant");
	});

	it("ends a token sign-in's grant when its token leaves MCP_AUTH_TOKENS", async () => {
		const { access } = await tokensFor("alice", `${ORIGIN}/api`);
		const withoutAlice = workerWith({
			MCP_AUTH_TOKENS: tokenTableJson().replace(/"[0-9a-f]{64}":\{"principal":"alice","role":"developer"\},?/, ""),
		});
		const res = await withoutAlice(new Request(`${ORIGIN}/api/approvals`, { headers: { authorization: `Bearer ${access}` } }));
		expect(res.status).toBe(401);
		expect(await res.json()).toMatchObject({ error: "invalid_token", message: expect.stringMatching(/no longer configured/) });
	});

	it("answers a role that lacks the right with 403 insufficient_scope", async () => {
		const { access } = await tokensFor("victor", `${ORIGIN}/api`);
		const res = await withBearer("/api/audit?principal=alice", access);
		expect(res.status).toBe(403);
		expect(res.headers.get("www-authenticate")).toMatch(/error="insufficient_scope"/);
		expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/api"`);
	});
});

describe("the authorization request", () => {
	it("refuses a redirect URI that does not match the registered one exactly, on the page, never redirecting", async () => {
		const clientId = await register();
		const { challenge } = await pkce();
		for (const redirect of [`${REDIRECT_URI}/x`, `${REDIRECT_URI}?next=1`, "https://evil.example/callback"]) {
			const res = await new Browser().go(authorizeUrl({ clientId, challenge, redirectUri: redirect, state: "s" }));
			expect(res.status).toBe(400);
			expect(res.headers.get("location")).toBeNull();
			expect(await res.text()).toMatch(/redirect/i);
		}
	});

	it("refuses PKCE plain (and no PKCE) with invalid_request at the client's redirect URI, with state and iss", async () => {
		const clientId = await register();
		const withPlain: Record<string, string> = { code_challenge: "a".repeat(43), code_challenge_method: "plain" };
		for (const pkceParams of [withPlain, {}]) {
			const res = await new Browser().go(authorizeUrl({ clientId, state: "st-1", params: pkceParams }));
			expect(res.status).toBe(302);
			const back = new URL(res.headers.get("location")!);
			expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
			expect(back.searchParams.get("error")).toBe("invalid_request");
			expect(back.searchParams.get("state")).toBe("st-1");
			expect(back.searchParams.get("iss")).toBe(ORIGIN);
			expect(back.searchParams.get("code")).toBeNull();
		}
	});

	it("sends access_denied back when the person denies, with state and iss", async () => {
		const clientId = await register();
		const { challenge } = await pkce();
		const { redirect } = await signInAndConsent(authorizeUrl({ clientId, challenge, state: "st-2" }), TOKENS.alice.token, "deny");
		expect(redirect.searchParams.get("error")).toBe("access_denied");
		expect(redirect.searchParams.get("state")).toBe("st-2");
		expect(redirect.searchParams.get("iss")).toBe(ORIGIN);
		expect(redirect.searchParams.get("code")).toBeNull();
	});
});

describe("the pages", () => {
	async function start() {
		const clientId = await register();
		const { challenge } = await pkce();
		const browser = new Browser();
		const page = await browser.go(authorizeUrl({ clientId, challenge, state: "s" }));
		return { browser, page, html: await page.text() };
	}

	it("refuse framing and caching", async () => {
		const { browser, page, html } = await start();
		for (const res of [page, await browser.post({ step: "sign-in", pending: hidden(html, "pending"), token: TOKENS.alice.token })]) {
			expect(res.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
			expect(res.headers.get("x-frame-options")).toBe("DENY");
			expect(res.headers.get("cache-control")).toMatch(/no-store/);
		}
	});

	it("refuse a wrong token on the sign-in page, and let the person try again", async () => {
		const { browser, html } = await start();
		const pending = hidden(html, "pending");
		const wrong = await browser.post({ step: "sign-in", pending, token: "sg_not_a_real_token_at_all_000000" });
		expect(wrong.status).toBe(401);
		expect(await wrong.text()).toMatch(/not valid here/);
		const right = await browser.post({ step: "sign-in", pending, token: TOKENS.alice.token });
		expect(right.status).toBe(200);
	});

	it("refuse a sign-in form sent from another browser or another site (login CSRF)", async () => {
		const { html } = await start();
		const pending = hidden(html, "pending");
		const elsewhere = await new Browser().post({ step: "sign-in", pending, token: TOKENS.alice.token });
		expect(elsewhere.status).toBe(403);
		const crossSite = await viaWorker(`${ORIGIN}/authorize`, {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
			body: new URLSearchParams({ step: "sign-in", pending, token: TOKENS.alice.token }).toString(),
		});
		expect(crossSite.status).toBe(403);
	});

	it("refuse a consent form sent from another browser (CSRF): no code is issued", async () => {
		const { browser, html } = await start();
		const consent = await browser.post({ step: "consent", handle: "", decision: "approve" }); // no handle at all
		expect(consent.status).toBe(400);
		const signedIn = await browser.post({ step: "sign-in", pending: hidden(html, "pending"), token: TOKENS.bob.token });
		const handle = hidden(await signedIn.text(), "handle");
		const forged = await new Browser().post({ step: "consent", handle, decision: "approve" });
		expect(forged.status).toBe(400);
		expect(forged.headers.get("location")).toBeNull();
	});
});
