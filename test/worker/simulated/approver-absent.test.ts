/**
 * Loopback-only, but not started with `npm run dev` (plain `wrangler dev`): no
 * approver link exists, and the refusals say so instead of promising an approver.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, connect, heldApproval } from "../support/mcp";

describe("loopback-only without an approver link", () => {
	it("a held call says that nobody can approve it here, and how to get an approver link", async () => {
		const agent = await connect();
		const held = await call(agent, "publish-content", { content: "No approver", channel: "blog" });
		expect(heldApproval(held).approver).toBe("none");
		expect(held.content[0].text).toContain("nobody can approve it on this server");
		expect(held.content[0].text).toContain("npm run dev, which prints an approver link");
		await agent.close();
	});

	it("a bearer token on the approvals API gets 401 saying there is no approver link", async () => {
		const res = await exports.default.fetch(
			new Request("http://localhost/api/approvals", { headers: { authorization: "Bearer op_some_guessed_secret_00000000" } }),
		);
		expect(res.status).toBe(401);
		expect((await res.json<{ message: string }>()).message).toContain("no approver link");
	});
});
