/**
 * OAuth sign-in as MCP clients do it, with the official SDK client inside
 * workerd: discovery from the 401, registration (dynamic, or a published
 * Client ID Metadata Document), sign-in with a token, the consent page,
 * PKCE, then tool calls as the signed-in person with their role; refresh
 * and revocation.
 */
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { knownPrincipals } from "../../../src/auth/authenticate";
import { CIMD_CLIENT_ID, CIMD_REDIRECT_URI } from "../../support/mcp-client-hosts";
import { TOKENS } from "../../support/test-tokens";
import { call, callTool, connect } from "../support/mcp";
import { oauthClient, ORIGIN, TestOAuthClient, textOf, viaWorker, withBearer } from "./support";

async function principalsInAuditOf(client: Awaited<ReturnType<typeof oauthClient>>["client"]): Promise<string[]> {
	const r = await callTool(client, "audit-log", { limit: 5 });
	const records = (r.structuredContent?.records ?? []) as { principal: string }[];
	return records.map((x) => x.principal);
}

describe("discovery", () => {
	it("answers an unauthenticated call with a challenge naming the resource's metadata, on /mcp, /sse and /api", async () => {
		for (const path of ["/mcp", "/sse", "/api/approvals"]) {
			const res = await viaWorker(`${ORIGIN}${path}`, { method: path === "/mcp" ? "POST" : "GET" });
			expect(res.status).toBe(401);
			const resource = path.startsWith("/api") ? "/api" : path;
			expect(res.headers.get("www-authenticate")).toContain(
				`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource${resource}"`,
			);
			// RFC 6750 3.1: no credentials, no error code
			expect(res.headers.get("www-authenticate")).not.toMatch(/error="/);
		}
	});

	it("publishes RFC 9728 metadata for each resource, naming this server as its authorization server", async () => {
		for (const [path, resource] of [
			["/.well-known/oauth-protected-resource/mcp", "/mcp"],
			["/.well-known/oauth-protected-resource/sse", "/sse"],
			["/.well-known/oauth-protected-resource", "/mcp"],
		]) {
			const doc = (await (await viaWorker(`${ORIGIN}${path}`)).json()) as Record<string, unknown>;
			expect(doc).toMatchObject({
				resource: `${ORIGIN}${resource}`,
				authorization_servers: [ORIGIN],
				bearer_methods_supported: ["header"],
			});
		}
	});

	it("publishes RFC 8414 metadata: code + S256 only, refresh, revocation, registration, CIMD, iss on redirects", async () => {
		const doc = (await (await viaWorker(`${ORIGIN}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
		expect(doc).toMatchObject({
			issuer: ORIGIN,
			authorization_endpoint: `${ORIGIN}/authorize`,
			token_endpoint: `${ORIGIN}/oauth/token`,
			registration_endpoint: `${ORIGIN}/oauth/register`,
			revocation_endpoint: `${ORIGIN}/oauth/token`,
			response_types_supported: ["code"],
			code_challenge_methods_supported: ["S256"],
			authorization_response_iss_parameter_supported: true,
			client_id_metadata_document_supported: true,
		});
		expect(doc.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
	});
});

describe("the whole flow with the MCP SDK client", () => {
	it("registers dynamically, signs alice in with her token, shows the consent page, and calls tools as alice the developer", async () => {
		const { client, consent } = await oauthClient(TOKENS.alice.token);
		expect(textOf(consent.page, "principal")).toBe("alice");
		expect(textOf(consent.page, "role")).toBe("developer");
		expect(textOf(consent.page, "redirect-host")).toBe("127.0.0.1");
		expect(consent.page).toContain("Worker Test Client");
		expect(consent.page).toMatch(/registered itself; its name is not verified/);
		// RFC 9207: the code comes back with this server's issuer
		expect(consent.redirect.searchParams.get("iss")).toBe(ORIGIN);
		expect((await client.listTools()).tools).toHaveLength(7);
		const r = await call(client, "research-topic", { topic: "oauth" });
		expect(r.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		expect(await principalsInAuditOf(client)).toEqual(expect.arrayContaining(["alice"]));
		expect(new Set(await principalsInAuditOf(client))).toEqual(new Set(["alice"]));
		await client.close();
	});

	it("remembers every person it granted access to, so an admin's audit query across principals includes them", async () => {
		// People signed in through the OIDC provider are in no token table: the grant is what names them.
		expect(await knownPrincipals({ kind: "none" }, env.OAUTH_KV)).not.toContain("victor");
		const { client } = await oauthClient(TOKENS.victor.token);
		expect(await knownPrincipals({ kind: "none" }, env.OAUTH_KV)).toContain("victor");
		await client.close();
	});

	it("uses a published Client ID Metadata Document: the page names the client and its domain; victor gets the viewer's tools", async () => {
		const { client, consent, provider } = await oauthClient(TOKENS.victor.token, new TestOAuthClient(CIMD_CLIENT_ID, CIMD_REDIRECT_URI));
		expect(provider.clientInformation()?.client_id).toBe(CIMD_CLIENT_ID); // nothing registered: the URL is the client id
		expect(consent.page).toContain("Published Test Client");
		expect(consent.page).toMatch(/published by <strong>mcp-client\.test<\/strong>/);
		expect(textOf(consent.page, "role")).toBe("viewer");
		expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["audit-log", "check-authorization", "research-topic"]);
		await client.close();
	});

	it("refreshes: the new access token works, the refresh token rotates", async () => {
		const { client, provider } = await oauthClient(TOKENS.bob.token);
		await client.close();
		const before = provider.tokens()!;
		expect(before.refresh_token).toBeTruthy();
		expect(await auth(provider, { serverUrl: `${ORIGIN}/mcp`, fetchFn: viaWorker })).toBe("AUTHORIZED");
		const after = provider.tokens()!;
		expect(after.access_token).not.toBe(before.access_token);
		expect(after.refresh_token).not.toBe(before.refresh_token);
		const res = await withBearer("/mcp", after.access_token);
		expect(res.status).toBe(200);
		await res.body?.cancel();
	});

	it("refuses a revoked token with 401 invalid_token and the resource's metadata", async () => {
		const { client, provider } = await oauthClient(TOKENS.carol.token);
		await client.close();
		const token = provider.tokens()!.access_token;
		const revoked = await viaWorker(`${ORIGIN}/oauth/token`, {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded" },
			body: new URLSearchParams({ token, client_id: provider.clientInformation()!.client_id }).toString(),
		});
		expect(revoked.status).toBe(200);
		const res = await withBearer("/mcp", token);
		expect(res.status).toBe(401);
		expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
		expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/mcp"`);
	});

	it("binds sessions to the grant: a static token of the same person cannot use the OAuth session", async () => {
		const { client } = await oauthClient(TOKENS.alice.token);
		await call(client, "research-topic", { topic: "sessions" });
		const sessionId = (client.transport as { sessionId?: string }).sessionId!;
		const res = await viaWorker(`${ORIGIN}/mcp`, {
			method: "POST",
			headers: {
				authorization: `Bearer ${TOKENS.alice.token}`,
				"content-type": "application/json",
				accept: "application/json, text/event-stream",
				"mcp-session-id": sessionId,
				"mcp-protocol-version": "2025-06-18",
			},
			body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
		});
		expect(res.status).toBe(404);
		await res.body?.cancel();
		await client.close();
	});

	it("keeps static bearer tokens working beside OAuth", async () => {
		const client = await connect("streamable", TOKENS.alice.token);
		expect((await client.listTools()).tools).toHaveLength(7);
		await client.close();
	});
});
