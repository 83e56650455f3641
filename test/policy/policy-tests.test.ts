/** policies/tests/*.json: every case holds against the bundled set (or the example it names). */
import { describe, expect, it } from "vitest";
import { loadPolicy, runPolicyTestFiles } from "../../src/policy/node";
import { runPolicyTests } from "../../src/policy/policy-tests";

const policy = loadPolicy();
const results = runPolicyTestFiles(policy);

describe("policy tests as data", () => {
	it("finds the tests of the default set and of the three README examples", () => {
		const files = new Set(results.map((r) => r.file));
		expect([...files].sort()).toEqual([
			"policies/tests/default-roles.json",
			"policies/tests/example-destructive-needs-approval.json",
			"policies/tests/example-upstream-working-hours.json",
			"policies/tests/example-viewer-read-only-tools.json",
		]);
	});

	it.each(results.map((r) => [`${r.file}: ${r.name}`, r] as const))("%s", (_name, result) => {
		expect(result.message).toBeUndefined();
		expect(result.ok).toBe(true);
	});

	it("reports a case whose expectation the policy does not meet, saying what happened", () => {
		const text = JSON.stringify({
			cases: [
				{
					name: "wrong on purpose",
					role: "viewer",
					tool: "publish-content",
					arguments: { content: "x", channel: "blog" },
					expect: "allow",
				},
			],
		});
		const [r] = runPolicyTests(policy, [{ file: "t.json", text }], () => policy);
		expect(r).toMatchObject({ ok: false, message: "expected allow, got forbid, by 'viewer-read-only'" });
	});

	it("names the file and field of a malformed test, and bad arguments of a built-in tool", () => {
		const [bad] = runPolicyTests(
			policy,
			[{ file: "t.json", text: JSON.stringify({ cases: [{ name: "x", role: "viewer", tool: "t", expect: "maybe" }] }) }],
			() => policy,
		);
		expect(bad.message).toMatch(/^t\.json: cases\.0\.expect: /);
		const text = JSON.stringify({
			cases: [{ name: "no env", role: "admin", tool: "deploy-changes", arguments: { serviceName: "s", changes: "c" }, expect: "allow" }],
		});
		const [args] = runPolicyTests(policy, [{ file: "t.json", text }], () => policy);
		expect(args.message).toMatch(/arguments of deploy-changes: environment/);
	});
});
