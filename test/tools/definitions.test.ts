/** What each built-in tool tells Stage0 about the call: the payload is part of the decision. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { argumentsHash } from "../../src/guard/approvals";
import { guardedCall } from "../../src/guard/pipeline";
import { loadPolicy } from "../../src/policy/node";
import { TOOLS } from "../../src/tools/definitions";
import { scriptedAuthority } from "../support/authorities";

/** Records what Stage0 would be sent; its DENY keeps every action from running. */
const recordingAuthority = () => scriptedAuthority("DENY", { reason: "recorded" });

const tool = (name: string) => TOOLS.find((t) => t.name === name)!;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function checkSent(name: string, args: Record<string, unknown>) {
	const authority = recordingAuthority();
	await guardedCall(tool(name), args, {
		authority,
		policy: loadPolicy(),
		loops: { reserveLoopAttempt: () => 1 },
		maxRetries: 5,
		runtime: { principal: "alice", role: "admin", sessionId: "s-1" },
	});
	return authority.seen[0];
}

describe("the check each tool sends", () => {
	it.each([
		["publish-content", { content: "Our Q3 numbers, embargoed until Friday", channel: "blog" }, "content"],
		["deploy-changes", { serviceName: "billing", environment: "staging", changes: "drop the users table" }, "changes"],
		[
			"managed-deploy",
			{ serviceName: "billing", environment: "staging", changes: "rotate certs", actorRole: "admin", approvalStatus: "none" },
			"changes",
		],
	] as const)("%s tells Stage0 which payload it is about, and the arguments' hash", async (name, args, field) => {
		const sent = await checkSent(name, args);
		const payload = (args as Record<string, string>)[field];
		expect(sent.context.args_sha256).toBe(argumentsHash(args));
		expect(sent.context.payload_summary).toEqual({
			sha256: sha256(payload),
			length: payload.length,
			excerpt: payload,
			truncated: false,
		});
	});

	it("two publish calls that differ only in content are different checks", async () => {
		const a = await checkSent("publish-content", { content: "Harmless release notes", channel: "blog" });
		const b = await checkSent("publish-content", { content: "Leaked customer list", channel: "blog" });
		expect(a.context.args_sha256).not.toBe(b.context.args_sha256);
		expect(a.context.payload_summary).not.toEqual(b.context.payload_summary);
	});

	it("every tool sends the arguments' hash", async () => {
		const sent = await checkSent("research-topic", { topic: "edge caching" });
		expect(sent.context.args_sha256).toBe(argumentsHash({ topic: "edge caching" }));
		expect(sent.context).not.toHaveProperty("payload_summary");
	});
});
