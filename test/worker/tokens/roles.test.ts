/** The role comes from the token; claims in arguments are reported and ignored. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { call, heldApproval } from "../support/mcp";
import { as } from "./support";

let alice: Client; // developer
let bob: Client; // admin
let victor: Client; // viewer
beforeAll(async () => {
	[alice, bob, victor] = await Promise.all([as("alice"), as("bob"), as("victor")]);
});
afterAll(async () => {
	await Promise.all([alice.close(), bob.close(), victor.close()]);
});

describe("tools/list per role", () => {
	it("shows a viewer only what a viewer could ever run", async () => {
		const { tools } = await victor.listTools();
		expect(tools.map((t) => t.name).sort()).toEqual(["audit-log", "check-authorization", "research-topic"]);
	});

	it("shows developers and admins all six guarded tools and their audit log", async () => {
		expect((await alice.listTools()).tools).toHaveLength(7);
		expect((await bob.listTools()).tools).toHaveLength(7);
	});

	it("refuses a hidden tool called by name like an unknown tool", async () => {
		for (const name of ["publish-content", "deploy-changes", "managed-deploy", "retry-workflow"]) {
			const r = await call(victor, name, { content: "x", channel: "blog" });
			expect(r.isError).toBe(true);
			expect(r.content[0].text).toBe(`MCP error -32602: Tool ${name} not found`);
		}
	});

	it("refuses a viewer's question about side effects by the local rule", async () => {
		const r = await call(victor, "check-authorization", {
			goal: "Publish the quarterly report",
			sideEffects: ["publish"],
			successCriteria: ["published"],
		});
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", source: "local-rule" });
		expect(r.structuredContent!.reason).toMatch(/local rule 'viewer-read-only'/);
		const ok = await call(victor, "research-topic", { topic: "release notes" });
		expect(ok.structuredContent!.verdict).toBe("ALLOW");
	});
});

describe("a developer cannot deploy to production by claiming admin or approved", () => {
	const cases = [
		["deploy-changes", { serviceName: "billing", environment: "production", changes: "v2", actorRole: "admin" }],
		[
			"managed-deploy",
			{
				serviceName: "billing",
				environment: "production",
				changes: "v2",
				actorRole: "admin",
				approvalStatus: "approved",
				resourceScope: "all",
			},
		],
	] as const;

	it.each(cases)("%s to production is held for an approval, and the claims are called out", async (tool, args) => {
		const r = await call(alice, tool, args);
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DEFER", source: "local-rule", executed: false });
		expect(r.structuredContent!.reason).toMatch(/local rule 'developer-production-needs-approval'/);
		expect(r.structuredContent!.notes).toContain("claimed role 'admin' ignored: authenticated as 'developer'");
		expect(r.structuredContent).not.toHaveProperty("result");
		expect(r.structuredContent!.approval).toMatchObject({ status: "pending" });
		expect(r.content[0].text).toContain("claimed role 'admin' ignored");
	});

	it("an approvalId that was never granted does not help either", async () => {
		const r = await call(alice, "deploy-changes", {
			serviceName: "billing",
			environment: "production",
			changes: "v2",
			approvalId: "00000000-0000-4000-8000-000000000000",
		});
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", source: "local-rule", executed: false });
		expect(r.structuredContent!.reason).toMatch(/not accepted: no such approval/);
	});

	it("an admin to production is held for an approval too", async () => {
		const r = await call(bob, "deploy-changes", { serviceName: "billing", environment: "production", changes: "v2" });
		expect(r.structuredContent!.reason).toMatch(/local rule 'admin-production-needs-approval'/);
	});

	it("a developer to staging goes to the authority (which wants an approval for deploys)", async () => {
		const r = await call(alice, "deploy-changes", { serviceName: "billing", environment: "staging", changes: "v2" });
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", source: "simulated" });
		expect(heldApproval(r).status).toBe("pending");
	});
});
