/** GUARD_POLICY replaces the bundled policy set without a rebuild: enforced, named in refusals and in the audit trail. */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { policySetId } from "../../../src/policy/engine";
import { TEAM_POLICY } from "../../support/policies";
import { call, connect } from "../support/mcp";
import type { policyStatus } from "../../../src/policy/source";

const id = policySetId(TEAM_POLICY);
let client: Client;
beforeAll(async () => {
	client = await connect();
});
afterAll(async () => {
	await client.close();
});

describe("a team's policy set in GUARD_POLICY", () => {
	it("is shown by GET / with its id and source, never its text", async () => {
		const body = await (
			await exports.default.fetch(new Request("http://localhost/"))
		).json<{ local_policy: ReturnType<typeof policyStatus> }>();
		expect(body.local_policy).toEqual({ id, source: "GUARD_POLICY", status: "ok" });
		expect(JSON.stringify(body)).not.toContain("newsletter");
	});

	it("holds a destructive tool for a person, naming the policy, where the bundled set would have let a staging deploy through", async () => {
		const r = await call(client, "deploy-changes", { serviceName: "billing", environment: "staging", changes: "v2" });
		expect(r.structuredContent).toMatchObject({
			verdict: "DEFER",
			source: "local-rule",
			executed: false,
			policy_version: `simulated-${id}`,
		});
		expect(r.structuredContent!.reason).toBe(
			"Held by local rule 'destructive-needs-a-person': destructive tools run only with a person's approval.",
		);
		expect(r.structuredContent!.approval).toMatchObject({ status: "pending" });
	});

	it("forbids by an argument, with no approval offered", async () => {
		const r = await call(client, "publish-content", { content: "hello", channel: "newsletter" });
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", decision: "NO_GO", source: "local-rule", executed: false });
		expect(r.structuredContent!.reason).toBe("Refused by local rule 'no-newsletter': agents do not write to the newsletter.");
		expect(r.structuredContent).not.toHaveProperty("approval");
	});

	it("leaves what it permits to the authority, and every audit record names the policy set", async () => {
		const ok = await call(client, "research-topic", { topic: "release notes" });
		expect(ok.structuredContent).toMatchObject({ verdict: "ALLOW", source: "simulated", executed: true });
		const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName("local"));
		const query = () => log.query({ principal: "local", limit: 100 });
		await expect.poll(async () => (await query()).length, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
		const records = await query();
		expect(new Set(records.map((r) => r.local_policy))).toEqual(new Set([id]));
		expect(records.map((r) => r.source).sort()).toEqual(["local-rule", "local-rule", "simulated"]);
	});
});
