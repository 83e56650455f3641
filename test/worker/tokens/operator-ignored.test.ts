/**
 * With MCP_AUTH_TOKENS configured, an approver-link hash left in the
 * configuration means nothing: its secret is just an unknown token.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TEST_OPERATOR_SECRET } from "../../support/test-tokens";
import { call, heldApproval } from "../support/mcp";
import { as } from "./support";

describe("the approver link's secret when tokens are configured", () => {
	it.each(["/api/approvals", "/mcp"])("is refused on %s as an unknown bearer token", async (path) => {
		const res = await exports.default.fetch(
			new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${TEST_OPERATOR_SECRET}` } }),
		);
		expect(res.status).toBe(401);
		expect((await res.json<{ message: string }>()).message).toMatch(/^Unknown bearer token\./);
	});

	it("refusals name an admin other than the requester as the approver", async () => {
		const alice = await as("alice");
		const held = await call(alice, "publish-content", { content: "Token-mode post", channel: "blog" });
		expect(heldApproval(held).approver).toBe("admin");
		expect(held.content[0].text).toContain("a person other than you, with the admin role, can approve it at");
		await alice.close();
	});
});
