/**
 * A team's policy about an upstream tool's arguments, end to end: wrangler dev with GUARD_POLICY in front of
 * the SDK's server (the test upstream) and the Stage0 stand-in. The policy reads `context.arguments.query`
 * and `context.arguments.ms`, arguments only the upstream's tools take: it validates once the upstream's
 * tools are listed, and permits, forbids or holds calls by those arguments before Stage0 is asked.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../scripts/lib/dev-server";
import type { ToolResult as Result } from "../support/results";
import { type Stage0StandIn, startStage0StandIn } from "../support/stage0-standin";
import { startUpstreamMcp, type UpstreamMcp } from "../support/upstream-mcp";

const KEY = "sk-e2e-gateway-policy-3a9c1e7f5b2d4068";
const TEAM_UPSTREAM_POLICY = `@id("guarded-tools")
permit (principal, action == Action::"call_tool", resource);

@id("no-secret-search") @reason("nobody searches the files for secrets")
forbid (principal, action == Action::"call_tool", resource == Tool::"files.search")
when { context.arguments has query && context.arguments.query like "*secret*" };

@id("long-waits-need-a-person") @reason("a wait over a second needs a person")
forbid (principal, action == Action::"call_tool", resource == Tool::"files.slow")
when { context.arguments has ms && context.arguments.ms > 1000 }
unless { context.approved };
`;

let stage0: Stage0StandIn;
let files: UpstreamMcp;
let server: DevServer;

beforeAll(async () => {
	stage0 = await startStage0StandIn({ apiKey: KEY });
	files = await startUpstreamMcp();
	server = await startDevServer({
		vars: {
			STAGE0_API_KEY: KEY,
			STAGE0_BASE_URL: stage0.url,
			STAGE0_TIMEOUT_MS: "3000",
			UPSTREAM_MCP_URL: files.url,
			UPSTREAM_NAME: "files",
			GUARD_POLICY: TEAM_UPSTREAM_POLICY,
		},
	});
});
afterAll(async () => {
	await server?.stop();
	await Promise.all([stage0?.close(), files?.close()]);
});

async function connect(): Promise<Client> {
	const client = new Client({ name: "e2e-gateway-policy", version: "1" });
	await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`)));
	return client;
}
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
	(await client.callTool({ name, arguments: args })) as Result;

describe("a team policy about an upstream tool's arguments", () => {
	it("validates against the upstream's argument types: GET / shows the policy in force", async () => {
		const body = (await (await fetch(`${server.origin}/`)).json()) as { local_policy: Record<string, unknown> };
		expect(body.local_policy).toMatchObject({ source: "GUARD_POLICY", status: "ok" });
		expect(body.local_policy.error).toBeUndefined();
	});

	it("forwards a call whose arguments it permits, and refuses one it forbids without asking Stage0 or the upstream", async () => {
		const client = await connect();
		const searches = files.calls.search ?? 0;
		const allowed = await call(client, "files.search", { query: "quarterly reports" });
		expect(allowed.content).toEqual([{ type: "text", text: "found 3 records for quarterly reports" }]);
		expect(allowed._meta!.guard).toMatchObject({ verdict: "ALLOW", executed: true });
		expect(files.calls.search).toBe(searches + 1);

		const asked = stage0.received.length;
		const refused = await call(client, "files.search", { query: "top secret plans" });
		expect(refused.isError).toBe(true);
		expect(refused._meta!.guard).toMatchObject({ verdict: "DENY", executed: false, source: "local-rule" });
		expect(refused._meta!.guard.reason).toContain("local rule 'no-secret-search': nobody searches the files for secrets");
		expect(refused.structuredContent?.approval).toBeUndefined();
		expect(files.calls.search).toBe(searches + 1);
		expect(stage0.received.length).toBe(asked);
		await client.close();
	});

	it("holds a call an approval would permit, by its argument, and forwards the same tool with other arguments", async () => {
		const client = await connect();
		const waits = files.calls.slow ?? 0;
		const held = await call(client, "files.slow", { ms: 5000 });
		expect(held.isError).toBe(true);
		expect(held._meta!.guard).toMatchObject({ verdict: "DEFER", executed: false });
		expect(held._meta!.guard.reason).toContain("local rule 'long-waits-need-a-person'");
		expect(held._meta!.guard.approval).toMatchObject({ status: "pending" });
		expect(files.calls.slow ?? 0).toBe(waits);

		const quick = await call(client, "files.slow", { ms: 5 });
		expect(quick.content).toEqual([{ type: "text", text: "waited 5 ms" }]);
		expect(files.calls.slow).toBe(waits + 1);
		await client.close();
	});
});
