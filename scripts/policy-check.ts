/**
 * Checks a local policy set before it is deployed: parses it, validates it
 * against policies/schema.cedarschema, and runs the policy tests
 * (policies/tests/*.json). Exits non-zero, with line and column, on any error.
 *
 *   npm run policy:check                     # the bundled policies/default.cedar
 *   npm run policy:check -- my-team.cedar    # the text you will put in GUARD_POLICY
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { DEFAULT_POLICY_FILE, loadPolicy, runPolicyTestFiles } from "../src/policy/node";

function fail(message: string, code = 1): never {
	console.error(message);
	process.exit(code);
}

try {
	const args = process.argv.slice(2).filter((a) => a !== "--");
	if (args.length > 1 || args.some((a) => a.startsWith("-"))) fail("usage: npm run policy:check [-- FILE.cedar]", 2);
	const file = args[0] ?? DEFAULT_POLICY_FILE;
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (error) {
		fail(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`, 2);
	}
	const name = relative(process.cwd(), file) || file;
	const policy = loadPolicy(text!, file === DEFAULT_POLICY_FILE ? "bundled" : "GUARD_POLICY");
	if (policy.error) fail(`${name}: ${policy.error}`);
	console.log(`${name}: parses and validates against the schema (policy set ${policy.id}, ${policy.policies.length} policies)`);
	if (policy.warning) console.log(`WARNING: ${policy.warning}`);

	const results = runPolicyTestFiles(policy);
	let failed = 0;
	for (const r of results) {
		if (r.ok) continue;
		failed++;
		console.log(`  FAIL ${r.file}: ${r.name}\n       ${r.message}`);
	}
	console.log(`policy tests: ${results.length - failed} passed, ${failed} failed (${results.length} cases in policies/tests)`);
	if (failed > 0) process.exit(1);
	console.log(`OK: deploy it with \`npx wrangler secret put GUARD_POLICY < ${name}\`; GET / then shows local_policy.id ${policy.id}.`);
} catch (error) {
	fail(`policy:check failed: ${error instanceof Error ? error.message : String(error)}`);
}
