/**
 * The OpenID Connect relying party (src/auth/oidc.ts) against the loopback
 * provider stand-in: the honest sign-in, roles from the claim map, and each
 * refusal a forged or replayed answer must meet.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
	beginOidcSignIn,
	completeOidcSignIn,
	type FlowStore,
	forgetOidcProviders,
	type OidcConfig,
	readOidcConfig,
} from "../../src/auth/oidc";
import { type OidcProvider, startOidcProvider } from "../support/oidc-provider";

const GUARD = "http://127.0.0.1:8787";
const CALLBACK = `${GUARD}/oauth/callback`;

function memoryStore(): FlowStore & { size(): number } {
	const map = new Map<string, string>();
	return {
		get: async (key) => map.get(key) ?? null,
		put: async (key, value) => void map.set(key, value),
		delete: async (key) => void map.delete(key),
		size: () => map.size,
	};
}

let provider: OidcProvider;
let config: OidcConfig;
let store: ReturnType<typeof memoryStore>;

beforeAll(async () => {
	provider = await startOidcProvider({
		clientId: "guard-client",
		clientSecret: "guard-client-secret-0123456789",
		redirectUris: [CALLBACK],
		user: { sub: "00u1", email: "alice@example.com", email_verified: true, groups: ["engineering", "guard-admins"] },
	});
});
afterAll(() => provider.close());

beforeEach(() => {
	forgetOidcProviders();
	provider.misbehave = {};
	store = memoryStore();
	const read = readOidcConfig(
		{
			OIDC_ISSUER: provider.issuer,
			OIDC_CLIENT_ID: "guard-client",
			OIDC_CLIENT_SECRET: "guard-client-secret-0123456789",
			OIDC_ROLE_CLAIM: "groups",
			OIDC_ROLE_MAP: JSON.stringify({ engineering: "developer", "guard-admins": "admin" }),
		},
		GUARD,
		store,
	);
	if (!read?.ok) throw new Error("config");
	config = read.config;
});

/** The browser's part: start, follow the provider's redirect, come back to the callback with the flow cookie. */
async function signIn(cfg: OidcConfig = config, returnTo = "/approvals") {
	const started = await beginOidcSignIn(cfg, { returnTo });
	const cookie = started.headers.get("set-cookie")!.split(";")[0];
	const atProvider = new URL(started.headers.get("location")!);
	const back = await fetch(atProvider, { redirect: "manual" });
	const callback = back.headers.get("location")!;
	return {
		started,
		atProvider,
		cookie,
		callback,
		complete: (c = cookie, url = callback) => completeOidcSignIn(callbackRequest(url, c), cfg),
	};
}

function callbackRequest(url: string, cookie?: string): Request {
	return new Request(url, { headers: cookie ? { cookie } : {} });
}

describe("OIDC sign-in", () => {
	it("sends the person to the provider with code flow, PKCE S256, a nonce and a state, bound to this browser by an HttpOnly cookie", async () => {
		const { started, atProvider } = await signIn();
		expect(started.status).toBe(302);
		expect(atProvider.origin + atProvider.pathname).toBe(`${provider.issuer}/authorize`);
		const q = atProvider.searchParams;
		expect(q.get("response_type")).toBe("code");
		expect(q.get("client_id")).toBe("guard-client");
		expect(q.get("redirect_uri")).toBe(CALLBACK);
		expect(q.get("scope")).toContain("openid");
		expect(q.get("code_challenge_method")).toBe("S256");
		expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(q.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(q.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
		const cookie = started.headers.get("set-cookie")!;
		expect(cookie).toMatch(/HttpOnly/);
		expect(cookie).toMatch(/SameSite=Lax/);
	});

	it("names the person by their verified email, with the highest role their groups map to, and returns where they were going", async () => {
		const flow = await signIn();
		const result = await flow.complete();
		expect(result).toMatchObject({ ok: true, principal: "alice@example.com", role: "admin", returnTo: "/approvals" });
		expect(store.size()).toBe(0);
	});

	it("gives the default role viewer to a person whose claim values the map does not name", async () => {
		provider.misbehave.claims = { groups: ["sales"] };
		expect(await (await signIn()).complete()).toMatchObject({ ok: true, role: "viewer" });
		provider.misbehave.claims = { groups: "engineering" }; // a single string counts too
		expect(await (await signIn()).complete()).toMatchObject({ ok: true, role: "developer" });
	});

	it("falls back to sub when the email is not verified", async () => {
		provider.misbehave.claims = { email_verified: false };
		expect(await (await signIn()).complete()).toMatchObject({ ok: true, principal: "00u1" });
	});
});

describe("OIDC refusals", () => {
	it("refuses a wrong state (one this server never issued), and the flow's own state still works after", async () => {
		const flow = await signIn();
		const forged = new URL(flow.callback);
		forged.searchParams.set("state", "A".repeat(43));
		expect(await flow.complete(flow.cookie, forged.toString())).toMatchObject({ ok: false, error: "invalid_request" });
		expect(await flow.complete()).toMatchObject({ ok: true });
	});

	it("refuses a callback in another browser (no flow cookie, or someone else's)", async () => {
		const flow = await signIn();
		expect(await flow.complete("")).toMatchObject({ ok: false, error: "invalid_request" });
		const other = await signIn();
		expect(await flow.complete(other.cookie)).toMatchObject({
			ok: false,
			error: "invalid_request",
			message: expect.stringMatching(/another browser/),
		});
	});

	it("refuses a replayed callback: a state is used once", async () => {
		const flow = await signIn();
		expect(await flow.complete()).toMatchObject({ ok: true });
		expect(await flow.complete()).toMatchObject({
			ok: false,
			error: "invalid_request",
			message: expect.stringMatching(/already used/),
		});
	});

	it("refuses a tampered ID token (payload changed after signing)", async () => {
		provider.misbehave.tamperIdToken = true;
		expect(await (await signIn()).complete()).toMatchObject({
			ok: false,
			error: "invalid_token",
			message: expect.stringMatching(/signature/),
		});
	});

	it("refuses an ID token signed by a key not in the provider's JWKS", async () => {
		provider.misbehave.foreignKey = true;
		expect(await (await signIn()).complete()).toMatchObject({ ok: false, error: "invalid_token" });
	});

	it.each([
		["another audience", { aud: "someone-else" }, /aud/],
		["another issuer", { iss: "https://evil.example" }, /iss/],
		["expired", { exp: Math.floor(Date.now() / 1000) - 3600 }, /expired/],
		["another sign-in's nonce", { nonce: "not-this-one" }, /nonce/],
		["several audiences and azp another client", { aud: ["guard-client", "other"], azp: "other" }, /azp/],
	])("refuses an ID token with %s", async (_name, claims, why) => {
		provider.misbehave.claims = claims;
		expect(await (await signIn()).complete()).toMatchObject({ ok: false, error: "invalid_token", message: expect.stringMatching(why) });
	});

	it("refuses an answer whose iss names another provider (RFC 9207 mix-up)", async () => {
		provider.misbehave.responseIss = "https://evil.example";
		expect(await (await signIn()).complete()).toMatchObject({
			ok: false,
			error: "invalid_request",
			message: expect.stringMatching(/iss/),
		});
	});

	it("refuses a discovery document that names another issuer, before sending anyone there", async () => {
		provider.misbehave.discoveryIssuer = "https://evil.example";
		const started = await beginOidcSignIn(config, { returnTo: "/approvals" });
		expect(started.status).toBe(502);
		expect(started.headers.get("location")).toBeNull();
		expect(await started.json()).toMatchObject({ error: "server_error", message: expect.stringMatching(/issuer/) });
	});

	it("refuses to return anywhere but this server", async () => {
		for (const returnTo of ["//evil.example/x", "https://evil.example", "/\\evil.example"]) {
			const started = await beginOidcSignIn(config, { returnTo });
			expect(started.status).toBe(400);
		}
	});

	it("reports the provider's refusal (access_denied) without exchanging anything", async () => {
		const flow = await signIn();
		const denied = new URL(flow.callback);
		denied.searchParams.delete("code");
		denied.searchParams.set("error", "access_denied");
		const before = provider.tokenRequests.length;
		expect(await flow.complete(flow.cookie, denied.toString())).toMatchObject({ ok: false, error: "access_denied" });
		expect(provider.tokenRequests.length).toBe(before);
	});
});

describe("OIDC configuration", () => {
	it("is off without OIDC_ISSUER, and refuses a half configuration with what is missing (never a secret)", () => {
		expect(readOidcConfig({}, GUARD, store)).toBeUndefined();
		expect(readOidcConfig({ OIDC_ISSUER: "https://idp.example" }, GUARD, store)).toMatchObject({
			ok: false,
			problem: /OIDC_CLIENT_ID/,
		});
		expect(readOidcConfig({ OIDC_ISSUER: "https://idp.example", OIDC_CLIENT_ID: "x" }, GUARD, store)).toMatchObject({
			ok: false,
			problem: /OIDC_CLIENT_SECRET/,
		});
		expect(readOidcConfig({ OIDC_ISSUER: "http://idp.example", OIDC_CLIENT_ID: "x", OIDC_CLIENT_SECRET: "s" }, GUARD, store)).toMatchObject(
			{
				ok: false,
				problem: /https/,
			},
		);
		const badMap = readOidcConfig(
			{ OIDC_ISSUER: "https://idp.example", OIDC_CLIENT_ID: "x", OIDC_CLIENT_SECRET: "topsecret", OIDC_ROLE_MAP: '{"a":"root"}' },
			GUARD,
			store,
		);
		expect(badMap).toMatchObject({ ok: false, problem: /OIDC_ROLE_MAP/ });
		expect(JSON.stringify(badMap)).not.toContain("topsecret");
	});
});
