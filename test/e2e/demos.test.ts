/**
 * The README's demos, run as a user would, against a running server: one whose
 * STAGE0_API_KEY is still the example's placeholder (an old .dev.vars copied
 * unchanged), which must run in simulated mode and say why; started, as
 * `npm run dev` starts it, with an approver link's secret.
 */
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../scripts/lib/dev-server";
import { TEST_OPERATOR_SECRET } from "../support/test-tokens";

let server: DevServer;
beforeAll(async () => {
	server = await startDevServer({ vars: { STAGE0_API_KEY: "your_api_key_here" }, operatorSecret: TEST_OPERATOR_SECRET });
});
afterAll(async () => {
	await server?.stop();
});

function demo(name: string, env: Record<string, string> = {}) {
	const run = spawnSync(resolve("node_modules/.bin/tsx"), ["scripts/demo.ts", name], {
		env: { ...process.env, MCP_URL: `${server.origin}/mcp`, DEMO_AUTO_APPROVE: "", APPROVER_TOKEN: "", ...env },
		encoding: "utf8",
		timeout: 60_000,
	});
	return { code: run.status, out: run.stdout };
}

describe("a placeholder STAGE0_API_KEY", () => {
	it("is no key: simulated mode, and a start-up warning that never shows the value", async () => {
		const health = await (await fetch(`${server.origin}/health`)).json();
		expect(health).toMatchObject({ mode: "simulated", stage0: null });
		await expect.poll(() => server.output(), { timeout: 10_000 }).toContain("WARNING: STAGE0_API_KEY holds a placeholder");
		expect(server.output()).not.toContain("your_api_key_here");
	});
});

describe("npm run demo:*", () => {
	it("demo:allow prints an ALLOW from the server", () => {
		const { code, out } = demo("allow");
		expect(code).toBe(0);
		expect(out).toContain("DEMO: ALLOW Scenario - Research Tool Call");
		expect(out).toMatch(/Verdict: ALLOW\nDecision: GO/);
		expect(out).toMatch(/Request ID: [0-9a-f-]{36}/);
		expect(out).toContain("Policy Version: simulated-v1.0.0");
		expect(out).toContain("✅ TOOL CALL ALLOWED");
	});

	it("demo:deny prints a DENY with its issue", () => {
		const { code, out } = demo("deny");
		expect(code).toBe(0);
		expect(out).toMatch(/Verdict: DENY\nDecision: NO_GO/);
		expect(out).toContain("[HIGH] SIDE_EFFECTS_NEED_GUARDRAILS");
		expect(out).toContain("⛔ TOOL CALL BLOCKED");
	});

	it("demo:defer prints a DEFER with questions, and the loop threshold", () => {
		const { code, out } = demo("defer", UNATTENDED);
		expect(code).toBe(0);
		// the vague request: no success criteria sent, and the seed's DEFER with its two questions
		const vague = out.slice(out.indexOf("DEMO: DEFER Scenario - Unclear/Vague Request"), out.indexOf("DEMO: DEFER Scenario - Loop"));
		expect(vague).toContain('MCP tool call: check-authorization {"goal":"help me think","sideEffects":[]}');
		expect(vague).toMatch(
			/Verdict: DEFER\nDecision: DEFER\nReason: UNCLEAR_VALUE_SIGNAL: Task\s+appears\s+under-specified\s+for\s+reliable\s+value\s+delivery\./,
		);
		expect(vague).toContain("Risk Score: 35");
		expect(vague).toContain(
			"Clarifying questions:\n  ? What is the specific outcome you want to achieve?\n  ? What constraints or requirements should be considered?",
		);
		expect(vague).toContain("⏸️ TOOL CALL DEFERRED\nThe agent should NOT proceed automatically.");
		expect(out).toContain("LOOP_THRESHOLD_EXCEEDED");
		expect(out).toContain("⏸️ TOOL CALL DEFERRED");
		// run twice against the same server: still a full loop, not an inherited count
		expect(demo("defer", UNATTENDED).code).toBe(0);
	});
});

const UNATTENDED = { DEMO_AUTO_APPROVE: "1", APPROVER_TOKEN: TEST_OPERATOR_SECRET };

describe("demo:defer's approval loop", () => {
	it("unattended: says it approves as the operator through the API, then the retry with approvalId runs", () => {
		const { code, out } = demo("defer", UNATTENDED);
		expect(code).toBe(0);
		expect(out).toContain("DEMO: Human approval - a person approves, the agent retries");
		expect(out.replace(/\n\s+/g, " ")).toContain(
			"Unattended run (DEMO_AUTO_APPROVE): the demo approved it through the approvals API as operator",
		);
		expect(out).toMatch(/MCP tool call: retry-workflow \{"workflowId":"[^"]+","approvalId":"[0-9a-f-]{36}"\}/);
		expect(out.replace(/\n\s+/g, " ")).toContain("✅ With the person's approval, the edge guard ran retry-workflow (executed: true)");
		expect(out).not.toContain(TEST_OPERATOR_SECRET); // it did not start the server, so it prints no approver link
	});

	it("attended: waits for a person, who approves on the API as the page does; then the retry runs", async () => {
		const child = spawn(resolve("node_modules/.bin/tsx"), ["scripts/demo.ts", "defer"], {
			env: { ...process.env, MCP_URL: `${server.origin}/mcp`, DEMO_AUTO_APPROVE: "", APPROVER_TOKEN: "" },
		});
		let out = "";
		child.stdout.on("data", (d) => (out += d));
		const exited = new Promise<number | null>((r) => child.once("exit", r));
		await expect.poll(() => out.replace(/\n\s+/g, " "), { timeout: 45_000 }).toContain("Waiting for a person to approve or reject it");
		expect(out.replace(/\n\s+/g, " ")).toContain("Open the approver link that `npm run dev` printed");
		const id = /approvals#([0-9a-f-]{36})/.exec(out)![1];
		// still waiting: nothing has been retried yet
		expect(out).not.toContain("approvalId");
		const approved = await fetch(`${server.origin}/api/approvals/${id}/approve`, {
			method: "POST",
			headers: { authorization: `Bearer ${TEST_OPERATOR_SECRET}`, "content-type": "application/json" },
			body: JSON.stringify({ note: "looked at the root cause" }),
		});
		expect(approved.status).toBe(200);
		expect(await exited).toBe(0);
		const flat = out.replace(/\n\s+/g, " ");
		expect(flat).toContain('Decision: approved by operator ("looked at the root cause").');
		expect(flat).toContain("✅ With the person's approval, the edge guard ran retry-workflow (executed: true)");
	});
});
