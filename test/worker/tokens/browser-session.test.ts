/**
 * The approvers' browser session with tokens configured: what the cookie is,
 * what it opens (the approvals page and API, nothing else), the CSRF defence
 * on every change, expiry, sign-out, withdrawn tokens, and sign-in links that
 * cannot send a person to another site.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserSessionStore } from "../../../src/state/browser-session-store";
import { TOKENS, tokenTableJson } from "../../support/test-tokens";
import { signIn, withSession } from "../support/browser";
import { call, workerWith } from "../support/mcp";
import { api, as } from "./support";

let alice: Client;
beforeAll(async () => {
	alice = await as("alice");
});
afterAll(async () => {
	await alice.close();
});

async function heldPublish(content = "Release notes for v2.5"): Promise<string> {
	const r = await call(alice, "publish-content", { content, channel: "blog" });
	return (r.structuredContent!.approval as { id: string }).id;
}

const statusOf = async (id: string) => (await api("carol", "GET", `/api/approvals/${id}`)).body.approval.status;

describe("signing in with a token", () => {
	it("sets an HttpOnly, SameSite=Strict session cookie that holds a random id, not the token", async () => {
		const session = await signIn(TOKENS.bob.token);
		expect(session.body).toMatchObject({ principal: "bob", role: "admin", return_to: "/approvals" });
		const attributes = session.setCookie.split(";").map((a) => a.trim());
		expect(attributes[0]).toMatch(/^edge-guard-session=[A-Za-z0-9_-]{43}$/);
		expect(attributes).toEqual(expect.arrayContaining(["Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=28800"]));
		expect(attributes).not.toContain("Secure"); // plain http (loopback): a Secure cookie would never come back
		expect(session.setCookie).not.toContain(TOKENS.bob.token);
		expect(JSON.stringify(session.body)).not.toContain(TOKENS.bob.token);
		expect(session.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
	});

	it("over HTTPS the cookie is Secure and __Host- prefixed", async () => {
		const session = await signIn(TOKENS.bob.token, { origin: "https://guard.example" });
		const attributes = session.setCookie.split(";").map((a) => a.trim());
		expect(attributes[0]).toMatch(/^__Host-edge-guard-session=/);
		expect(attributes).toEqual(expect.arrayContaining(["Secure", "Path=/", "HttpOnly", "SameSite=Strict"]));
		expect(session.setCookie).not.toMatch(/Domain=/i);
		// the same cookie without the prefix (as a plain-http page could plant it) means nothing over HTTPS
		const planted = session.cookie.replace("__Host-", "");
		const res = await withSession({ cookie: planted }, "GET", "/api/approvals", { base: "https://guard.example" });
		expect(res.status).toBe(401);
		const ok = await withSession(session, "GET", "/api/approvals", { base: "https://guard.example" });
		expect(ok.body.viewer).toEqual({ principal: "bob", role: "admin" });
	});

	it("a wrong token gets the reason and no cookie", async () => {
		const res = await exports.default.fetch(
			new Request("http://localhost/approvals/sign-in", {
				method: "POST",
				headers: { origin: "http://localhost", "content-type": "application/json" },
				body: JSON.stringify({ token: "sg_wrong_token_0000000000000000" }),
			}),
		);
		expect(res.status).toBe(401);
		expect((await res.json<{ message: string }>()).message).toMatch(/^Unknown bearer token\./);
		expect(res.headers.get("set-cookie")).toBeNull();
	});

	it("is refused from another site's page, or with no Origin (no signing a browser in as someone else)", async () => {
		for (const origin of ["https://evil.example", null]) {
			const res = await exports.default.fetch(
				new Request("http://localhost/approvals/sign-in", {
					method: "POST",
					headers: { ...(origin ? { origin } : {}), "content-type": "application/json" },
					body: JSON.stringify({ token: TOKENS.bob.token }),
				}),
			);
			expect(res.status).toBe(403);
			expect(res.headers.get("set-cookie")).toBeNull();
		}
	});

	it("opens the approvals page and API, and nothing else (not /mcp, not the audit API)", async () => {
		const session = await signIn(TOKENS.bob.token);
		const page = await exports.default.fetch(new Request("http://localhost/approvals", { headers: { cookie: session.cookie } }));
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toContain("text/html");
		expect((await withSession(session, "GET", "/api/approvals")).body.viewer).toEqual({ principal: "bob", role: "admin" });
		for (const path of ["/mcp", "/api/audit"]) {
			const res = await exports.default.fetch(new Request(`http://localhost${path}`, { headers: { cookie: session.cookie } }));
			expect({ path, status: res.status }).toEqual({ path, status: 401 });
		}
	});

	it("a new sign-in in the same browser ends the session it had", async () => {
		const first = await signIn(TOKENS.bob.token);
		const second = await signIn(TOKENS.carol.token, { cookie: first.cookie });
		expect((await withSession(first, "GET", "/api/approvals")).status).toBe(401);
		expect((await withSession(second, "GET", "/api/approvals")).body.viewer).toEqual({ principal: "carol", role: "admin" });
	});
});

describe("CSRF: a change made with the cookie needs the session's token and this server's Origin", () => {
	it("approve without the CSRF token: 403, and the request stays pending", async () => {
		const session = await signIn(TOKENS.bob.token);
		const id = await heldPublish();
		const res = await withSession(session, "POST", `/api/approvals/${id}/approve`, { csrf: null });
		expect(res.status).toBe(403);
		expect(res.body).toMatchObject({ error: "csrf_refused" });
		expect(await statusOf(id)).toBe("pending");
	});

	it("approve with another session's CSRF token, or a made-up one: 403, nothing changes", async () => {
		const session = await signIn(TOKENS.bob.token);
		const other = await signIn(TOKENS.carol.token);
		const id = await heldPublish();
		for (const csrf of [other.csrf, "x".repeat(43), session.csrf.slice(0, 42)]) {
			const res = await withSession(session, "POST", `/api/approvals/${id}/reject`, { csrf });
			expect(res.status).toBe(403);
			expect(res.body).toMatchObject({ error: "csrf_refused" });
		}
		expect(await statusOf(id)).toBe("pending");
	});

	it("the right token without an Origin, or from another site, is refused too", async () => {
		const session = await signIn(TOKENS.bob.token);
		const id = await heldPublish();
		expect((await withSession(session, "POST", `/api/approvals/${id}/approve`, { origin: null })).status).toBe(403);
		expect((await withSession(session, "POST", `/api/approvals/${id}/approve`, { origin: "https://evil.example" })).status).toBe(403);
		expect(await statusOf(id)).toBe("pending");
	});

	it("with the token from the page and its own Origin, the approval goes through", async () => {
		const session = await signIn(TOKENS.bob.token);
		const id = await heldPublish();
		const res = await withSession(session, "POST", `/api/approvals/${id}/approve`, { body: { note: "fine" } });
		expect(res.status).toBe(200);
		expect(res.body.approval).toMatchObject({ status: "approved", decided_by: "bob", note: "fine" });
	});

	it("bearer tokens (headless tools) need no CSRF token, as before", async () => {
		const id = await heldPublish();
		expect((await api("bob", "POST", `/api/approvals/${id}/approve`, {})).status).toBe(200);
	});
});

describe("how a session ends", () => {
	it("sign-out needs the CSRF token; then the session is gone on the server, not just the cookie", async () => {
		const session = await signIn(TOKENS.bob.token);
		const refused = await withSession(session, "POST", "/approvals/sign-out", { csrf: null });
		expect(refused.status).toBe(403);
		expect((await withSession(session, "GET", "/api/approvals")).status).toBe(200);

		const out = await withSession(session, "POST", "/approvals/sign-out");
		expect(out.status).toBe(200);
		expect(out.headers.get("set-cookie")).toMatch(/^edge-guard-session=; .*Max-Age=0/);
		// a copy of the old cookie opens nothing
		const after = await withSession(session, "GET", "/api/approvals");
		expect(after.status).toBe(401);
		expect(after.body).toMatchObject({ error: "session_ended" });
		const page = await exports.default.fetch(
			new Request("http://localhost/approvals", { headers: { cookie: session.cookie }, redirect: "manual" }),
		);
		expect(page.status).toBe(303);
	});

	it("a form sign-out with the token in csrf_token works too", async () => {
		const session = await signIn(TOKENS.bob.token);
		const res = await exports.default.fetch(
			new Request("http://localhost/approvals/sign-out", {
				method: "POST",
				headers: { cookie: session.cookie, origin: "http://localhost", "content-type": "application/x-www-form-urlencoded" },
				body: `csrf_token=${session.csrf}`,
			}),
		);
		expect(res.status).toBe(200);
		expect((await withSession(session, "GET", "/api/approvals")).status).toBe(401);
	});

	it("an expired session opens nothing, and the page sends the browser to sign in", async () => {
		const session = await signIn(TOKENS.bob.token);
		expect(session.setCookie).toContain("Max-Age=28800");
		const stub = env.BROWSER_SESSIONS.get(env.BROWSER_SESSIONS.idFromName("global"));
		await runInDurableObject(stub, async (_instance: BrowserSessionStore, state) => {
			// the clock moves past the session's end (8 hours, APPROVER_SESSION_TTL_SECONDS)
			state.storage.sql.exec("UPDATE sessions SET expires_at = ? WHERE principal = 'bob'", Date.now() - 1);
		});
		const api401 = await withSession(session, "GET", "/api/approvals");
		expect(api401.status).toBe(401);
		const page = await exports.default.fetch(
			new Request("http://localhost/approvals?id=7d4c3a9e-1111-4222-8333-944455556666", {
				headers: { cookie: session.cookie },
				redirect: "manual",
			}),
		);
		expect(page.status).toBe(303);
		expect(page.headers.get("location")).toBe(
			`/approvals/sign-in?return_to=${encodeURIComponent("/approvals?id=7d4c3a9e-1111-4222-8333-944455556666")}`,
		);
		expect(page.headers.get("set-cookie")).toMatch(/Max-Age=0/);
	});

	it("a token withdrawn from MCP_AUTH_TOKENS ends its sessions; a changed role applies at once", async () => {
		const session = await signIn(TOKENS.bob.token);
		const withoutBob = JSON.parse(tokenTableJson()) as Record<string, { principal: string }>;
		for (const [hash, entry] of Object.entries(withoutBob)) if (entry.principal === "bob") delete withoutBob[hash];
		const demoted = workerWith({ MCP_AUTH_TOKENS: tokenTableJson({ bob: "viewer" }) });
		const id = await heldPublish();
		const tried = await withSession(session, "POST", `/api/approvals/${id}/approve`, { via: demoted });
		expect(tried.status).toBe(404); // a viewer sees no one else's requests
		expect((await withSession(session, "GET", "/api/approvals", { via: demoted })).body.viewer).toEqual({
			principal: "bob",
			role: "viewer",
		});
		const withdrawn = workerWith({ MCP_AUTH_TOKENS: JSON.stringify(withoutBob) });
		expect((await withSession(session, "GET", "/api/approvals", { via: withdrawn })).status).toBe(401);
		expect(await statusOf(id)).toBe("pending");
	});
});

describe("sign-in links and where they lead (no open redirect)", () => {
	const ID = "7d4c3a9e-1111-4222-8333-944455556666";

	it("a signed-out approval link goes to sign-in, which leads back to that approval", async () => {
		const res = await exports.default.fetch(new Request(`http://localhost/approvals?id=${ID}`, { redirect: "manual" }));
		expect(res.status).toBe(303);
		const location = new URL(res.headers.get("location")!, "http://localhost");
		expect(location.pathname).toBe("/approvals/sign-in");
		expect(location.searchParams.get("return_to")).toBe(`/approvals?id=${ID}`);
		const page = await (await exports.default.fetch(new Request(location))).text();
		expect(page).toContain(`<meta name="return-to" content="/approvals?id=${ID}">`);
		const session = await signIn(TOKENS.bob.token, { returnTo: `/approvals?id=${ID}` });
		expect(session.body.return_to).toBe(`/approvals?id=${ID}`);
		expect((await signIn(TOKENS.bob.token, { returnTo: `/approvals#${ID}` })).body.return_to).toBe(`/approvals#${ID}`);
	});

	it.each([
		"https://evil.example/approvals",
		"//evil.example/approvals",
		"/\\evil.example/approvals",
		"\\\\evil.example",
		"/%2F%2Fevil.example",
		"javascript:alert(1)",
		" //evil.example",
		"/\t/evil.example",
		"/approvals/../api/approvals/x/approve",
		"/api/approvals",
		"http://localhost/approvals",
	])("return_to %j is replaced by /approvals, on the page and after sign-in", async (attack) => {
		const session = await signIn(TOKENS.bob.token, { returnTo: attack });
		expect(session.body.return_to).toBe("/approvals");
		const page = await (
			await exports.default.fetch(new Request(`http://localhost/approvals/sign-in?return_to=${encodeURIComponent(attack)}`))
		).text();
		expect(page).toContain('<meta name="return-to" content="/approvals">');
		expect(page).not.toContain("evil.example");
	});
});
