/**
 * Checks a local policy set before it is deployed: parses it, validates it
 * against policies/schema.cedarschema, and runs the policy tests
 * (policies/tests/*.json). Exits non-zero, with line and column, on any error.
 *
 *   npm run policy:check                     # the bundled policies/default.cedar
 *   npm run policy:check -- my-team.cedar    # the text you will put in GUARD_POLICY
 *   npm run policy:check -- my-team.cedar --tools files-tools.json
 *       # also the argument types of an upstream's tools (a saved tools/list answer; repeat per upstream),
 *       # for a policy that reads an upstream tool's `context.arguments`
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import type { JsonSchema } from "../src/policy/arguments";
import { DEFAULT_POLICY_FILE, inputSchemasOfToolListFiles, loadPolicy, runPolicyTestFiles } from "../src/policy/node";

function fail(message: string, code = 1): never {
	console.error(message);
	process.exit(code);
}

try {
	const usage = "usage: npm run policy:check [-- FILE.cedar] [--tools TOOLS.json ...]";
	const args: string[] = [];
	const toolFiles: string[] = [];
	const argv = process.argv.slice(2).filter((a) => a !== "--");
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === "--tools") {
			const next = argv[++i];
			if (next === undefined || next.startsWith("-")) fail(usage, 2);
			toolFiles.push(next);
		} else if (argv[i]!.startsWith("-")) fail(usage, 2);
		else args.push(argv[i]!);
	}
	if (args.length > 1) fail(usage, 2);
	const file = args[0] ?? DEFAULT_POLICY_FILE;
	let upstreamSchemas: JsonSchema[] = [];
	try {
		upstreamSchemas = inputSchemasOfToolListFiles(toolFiles);
	} catch (error) {
		fail(error instanceof Error ? error.message : String(error), 2);
	}
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (error) {
		fail(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`, 2);
	}
	const name = relative(process.cwd(), file) || file;
	const policy = loadPolicy(text!, file === DEFAULT_POLICY_FILE ? "bundled" : "GUARD_POLICY", upstreamSchemas);
	if (policy.error) fail(`${name}: ${policy.error}`);
	const withTools = toolFiles.length > 0 ? ` with the argument types of ${toolFiles.join(", ")}` : "";
	console.log(`${name}: parses and validates against the schema${withTools} (policy set ${policy.id}, ${policy.policies.length} policies)`);
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
