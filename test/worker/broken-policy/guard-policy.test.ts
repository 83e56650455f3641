/** A GUARD_POLICY that does not validate blocks every guarded call, with a reason naming line and column. */
import { exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { policySetId } from "../../../src/policy/engine";
import { BROKEN_POLICY } from "../../support/policies";
import { call, connect } from "../support/mcp";
import type { policyStatus } from "../../../src/policy/source";

const id = policySetId(BROKEN_POLICY);
let client: Client;
beforeAll(async () => {
	client = await connect();
});
afterAll(async () => {
	await client.close();
});

describe("a broken policy set", () => {
	it("is reported by GET / with the first error's line and column", async () => {
		const body = await (
			await exports.default.fetch(new Request("http://localhost/"))
		).json<{ local_policy: ReturnType<typeof policyStatus> }>();
		expect(body.local_policy).toMatchObject({ id, source: "GUARD_POLICY", status: "error" });
		expect(body.local_policy.error).toMatch(
			/^policy 'typo' does not validate against the schema at line 3, column 45: .*destructiv.*Every guarded call is refused/,
		);
	});

	it("refuses even a read-only call with decision ERROR, before the authority, and never runs it", async () => {
		const r = await call(client, "research-topic", { topic: "release notes" });
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({
			verdict: "DENY",
			decision: "ERROR",
			source: "local-rule",
			executed: false,
			policy_version: `simulated-${id}`,
		});
		expect(r.structuredContent!.reason).toMatch(
			new RegExp(`^The local policy set ${id} cannot be used, so nothing is allowed: .*line 3, column 45`),
		);
		expect(r.structuredContent).not.toHaveProperty("result");
		expect(r.content[0].text).toMatch(/^⛔ TOOL CALL BLOCKED: research-topic \(the local policy set cannot be used\)/);
	});

	it("keeps the tools listed, so a caller reads why its calls are refused", async () => {
		expect((await client.listTools()).tools).toHaveLength(7);
	});
});
