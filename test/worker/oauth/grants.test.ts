/**
 * An admin sees and revokes people's OAuth grants (/api/grants): a revoked
 * grant's access token, refresh token and open MCP session stop at once and
 * nothing more runs; the guard refuses a token whose grant is gone even when
 * the token's record outlived it; only admins may list or revoke.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { TOKENS } from "../../support/test-tokens";
import { call, workerWith } from "../support/mcp";
import { env, exchange, oauthClient, ORIGIN, viaWorker, withBearer } from "./support";

interface GrantView {
	id: string;
	principal: string;
	role: string;
	via: string;
	client_id: string;
	client_name: string | null;
	scope: string[];
	resource: string | string[] | null;
	created_at: string;
}

const ADMIN = TOKENS.bob.token;

function api(path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (token) headers.set("authorization", `Bearer ${token}`);
	return viaWorker(`${ORIGIN}${path}`, { ...init, headers });
}

async function grantsOf(principal: string): Promise<GrantView[]> {
	const res = await api(`/api/grants?principal=${encodeURIComponent(principal)}`, ADMIN);
	expect(res.status).toBe(200);
	return ((await res.json()) as { grants: GrantView[] }).grants;
}

/** A person signed in with the SDK client: the grant it got, its tokens, and its open session. */
async function signedIn(who: keyof typeof TOKENS) {
	const { client, provider } = await oauthClient(TOKENS[who].token);
	const clientId = provider.clientInformation()!.client_id;
	const grant = (await grantsOf(TOKENS[who].principal)).find((g) => g.client_id === clientId);
	expect(grant).toBeDefined();
	return { client, provider, clientId, grant: grant!, tokens: provider.tokens()! };
}

/** How many decisions the audit trail holds for a principal (read with an admin's static token). */
async function auditCount(principal: string): Promise<number> {
	const res = await api(`/api/audit?principal=${principal}&limit=500`, ADMIN);
	expect(res.status).toBe(200);
	return ((await res.json()) as { records: unknown[] }).records.length;
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("an admin revokes a grant", () => {
	it("lists alice's grant without any secret, revokes it: access token 401, refresh invalid_grant, open session refused, nothing ran", async () => {
		const { client, clientId, grant, tokens } = await signedIn("alice");
		expect((await call(client, "research-topic", { topic: "before" })).structuredContent).toMatchObject({ executed: true });
		expect(grant).toMatchObject({
			principal: "alice",
			role: "developer",
			via: "token",
			client_id: clientId,
			client_name: "Worker Test Client",
			resource: `${ORIGIN}/mcp`,
		});
		expect(Date.parse(grant.created_at)).toBeGreaterThan(Date.now() - 60_000);
		const listing = await (await api("/api/grants?principal=alice", ADMIN)).text();
		for (const secret of [tokens.access_token, tokens.refresh_token!, TOKENS.alice.token, "encryptedProps", "tokenHash"]) {
			expect(listing).not.toContain(secret);
		}

		const before = await auditCount("alice");
		const logged = vi.spyOn(console, "log");
		const revoked = await api(`/api/grants/${grant.id}?principal=alice`, ADMIN, { method: "DELETE" });
		expect(revoked.status).toBe(200);
		expect(await revoked.json()).toMatchObject({ revoked: [{ id: grant.id, principal: "alice", client_id: clientId }] });

		const denied = await withBearer("/mcp", tokens.access_token);
		expect(denied.status).toBe(401);
		expect(denied.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
		const refresh = await exchange({ grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: clientId });
		expect(refresh.status).toBe(400);
		expect(refresh.body.error).toBe("invalid_grant");
		// The open session, by hand: its next message with the revoked token is refused before reaching it.
		const sessionId = (client.transport as { sessionId?: string }).sessionId!;
		const message = await withBearer("/mcp", tokens.access_token, {
			headers: { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
			body: JSON.stringify({
				jsonrpc: "2.0",
				id: 9,
				method: "tools/call",
				params: { name: "research-topic", arguments: { topic: "after" } },
			}),
		});
		expect(message.status).toBe(401);
		// And the SDK client holding that session: its call fails, its own refresh attempt refused.
		await expect(call(client, "research-topic", { topic: "after" })).rejects.toThrow(/Grant not found/);
		expect(await auditCount("alice")).toBe(before);
		expect((await grantsOf("alice")).map((g) => g.id)).not.toContain(grant.id);

		const lines = logged.mock.calls.map((args) => String(args[0])).filter((line) => line.includes("oauth.grant_revoked"));
		expect(lines).toHaveLength(1);
		expect(JSON.parse(lines[0])).toMatchObject({
			event: "oauth.grant_revoked",
			by: "bob",
			principal: "alice",
			grant_id: grant.id,
			client_id: clientId,
		});
		expect(lines[0]).not.toContain(tokens.access_token.split(":")[2]);
		expect(lines[0]).not.toContain(TOKENS.bob.token);
		await client.close();
	});

	it("revokes every grant of a person at once, and leaves other people's grants working", async () => {
		const first = await signedIn("victor");
		const second = await signedIn("victor");
		const carol = await signedIn("carol");
		const res = await api("/api/grants?principal=victor", ADMIN, { method: "DELETE" });
		expect(res.status).toBe(200);
		const ids = ((await res.json()) as { revoked: { id: string }[] }).revoked.map((g) => g.id);
		expect(ids).toEqual(expect.arrayContaining([first.grant.id, second.grant.id]));
		expect(await grantsOf("victor")).toEqual([]);
		for (const { tokens } of [first, second]) expect((await withBearer("/mcp", tokens.access_token)).status).toBe(401);
		const still = await withBearer("/mcp", carol.tokens.access_token);
		expect(still.status).toBe(200);
		await still.body?.cancel();
		await Promise.all([first.client.close(), second.client.close(), carol.client.close()]);
	});

	it("pages through grants with limit and next_cursor, each grant once", async () => {
		const first = await signedIn("carol");
		const second = await signedIn("carol");
		for (const query of ["principal=carol&", ""]) {
			const seen: string[] = [];
			let cursor: string | null = null;
			do {
				const res = await api(`/api/grants?${query}limit=1${cursor ? `&cursor=${cursor}` : ""}`, ADMIN);
				expect(res.status).toBe(200);
				const page = (await res.json()) as { grants: GrantView[]; next_cursor: string | null };
				expect(page.grants.length).toBeLessThanOrEqual(1);
				seen.push(...page.grants.map((g) => g.id));
				cursor = page.next_cursor;
			} while (cursor && seen.length < 50);
			expect(seen).toEqual(expect.arrayContaining([first.grant.id, second.grant.id]));
			expect(new Set(seen).size).toBe(seen.length);
		}
		const bad = await api("/api/grants?principal=carol&cursor=not-a-cursor", ADMIN);
		expect(bad.status).toBe(400);
		expect(await bad.json()).toMatchObject({ error: "invalid_cursor" });
		await Promise.all([first.client.close(), second.client.close()]);
	});

	it("lists everyone's grants when no principal is named", async () => {
		const alice = await signedIn("alice");
		const res = await api("/api/grants", ADMIN);
		expect(res.status).toBe(200);
		const { grants } = (await res.json()) as { grants: GrantView[] };
		expect(grants.map((g) => g.id)).toContain(alice.grant.id);
		await alice.client.close();
	});

	it("refuses a token whose grant is gone even when the token's own record outlived it", async () => {
		// A revocation cut short (or a token the listing missed) leaves a token record behind its grant.
		const { client, provider } = await oauthClient(TOKENS.alice.token);
		const tokens = provider.tokens()!;
		const [userId, grantId] = tokens.access_token.split(":");
		await env.OAUTH_KV.delete(`grant:${userId}:${grantId}`);
		expect((await env.OAUTH_KV.list({ prefix: `token:${userId}:${grantId}:` })).keys.length).toBeGreaterThan(0);
		const res = await withBearer("/mcp", tokens.access_token);
		expect(res.status).toBe(401);
		expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
		await client.close();
	});
});

describe("who may list and revoke", () => {
	it("refuses a developer and a viewer with 403 insufficient_scope, and the grant still works", async () => {
		const victor = await signedIn("victor");
		for (const token of [TOKENS.alice.token, TOKENS.victor.token]) {
			for (const [path, method] of [
				["/api/grants", "GET"],
				["/api/grants?principal=victor", "GET"],
				[`/api/grants/${victor.grant.id}?principal=victor`, "DELETE"],
				["/api/grants?principal=victor", "DELETE"],
			]) {
				const res = await api(path, token, { method });
				expect(res.status, `${method} ${path}`).toBe(403);
				expect(res.headers.get("www-authenticate")).toMatch(/error="insufficient_scope"/);
				expect(await res.json()).toMatchObject({ error: "forbidden" });
			}
		}
		expect((await grantsOf("victor")).map((g) => g.id)).toContain(victor.grant.id);
		const still = await withBearer("/mcp", victor.tokens.access_token);
		expect(still.status).toBe(200);
		await still.body?.cancel();
		await victor.client.close();
	});

	it("answers an unauthenticated call with 401 and the /api resource's metadata", async () => {
		for (const method of ["GET", "DELETE"]) {
			const res = await api("/api/grants?principal=alice", undefined, { method });
			expect(res.status).toBe(401);
			expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/api"`);
		}
	});

	it("refuses a revocation from another web page (Origin), and nothing changes", async () => {
		const alice = await signedIn("alice");
		const res = await api(`/api/grants/${alice.grant.id}?principal=alice`, ADMIN, {
			method: "DELETE",
			headers: { origin: "https://evil.example" },
		});
		expect(res.status).toBe(403);
		expect(await res.json()).toMatchObject({ error: "origin_not_allowed" });
		expect((await grantsOf("alice")).map((g) => g.id)).toContain(alice.grant.id);
		await alice.client.close();
	});
});

describe("bad input", () => {
	it("says so when OAuth sign-in is off (no OAUTH_KV): no grant is honoured, none to list", async () => {
		const withoutOAuth = workerWith({ OAUTH_KV: undefined });
		const res = await withoutOAuth(new Request(`${ORIGIN}/api/grants`, { headers: { authorization: `Bearer ${ADMIN}` } }));
		expect(res.status).toBe(404);
		expect(await res.json()).toMatchObject({ error: "oauth_off", message: expect.stringMatching(/OAuth sign-in is off/) });
	});

	it("answers a clear JSON error and changes nothing", async () => {
		const alice = await signedIn("alice");
		const cases: [string, string, number, string][] = [
			[`/api/grants/${alice.grant.id}`, "DELETE", 400, "missing_principal"],
			["/api/grants", "DELETE", 400, "missing_principal"],
			[`/api/grants/not*a*grant?principal=alice`, "DELETE", 400, "invalid_grant_id"],
			[`/api/grants/${alice.grant.id}?principal=${"x".repeat(129)}`, "DELETE", 400, "invalid_principal"],
			["/api/grants?principal=", "GET", 400, "invalid_principal"],
			["/api/grants?limit=0", "GET", 400, "invalid_limit"],
			// alice's grant named under someone else: not found, not revoked
			[`/api/grants/${alice.grant.id}?principal=victor`, "DELETE", 404, "not_found"],
			[`/api/grants/AAAAAAAAAAAAAAAA?principal=alice`, "DELETE", 404, "not_found"],
			[`/api/grants/${alice.grant.id}/extra?principal=alice`, "DELETE", 404, "not_found"],
			[`/api/grants/${alice.grant.id}?principal=alice`, "POST", 405, "method_not_allowed"],
		];
		for (const [path, method, status, error] of cases) {
			const res = await api(path, ADMIN, { method });
			expect(res.status, `${method} ${path}`).toBe(status);
			expect(await res.json(), `${method} ${path}`).toMatchObject({ error, message: expect.any(String) });
		}
		expect((await grantsOf("alice")).map((g) => g.id)).toContain(alice.grant.id);
		expect((await call(alice.client, "research-topic", { topic: "still" })).structuredContent).toMatchObject({ executed: true });
		await alice.client.close();
	});
});
