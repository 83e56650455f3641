/**
 * Explains the local decision for one call, without asking Stage0: permitted
 * (Stage0 would decide next), held for an approval, or forbidden, with the
 * determining policies and their reasons.
 *
 *   npm run policy:explain -- --principal alice --role developer --tool deploy-changes \
 *     --args '{"serviceName":"billing","environment":"production","changes":"v2"}'
 *
 * Options: --groups a,b  --at 2026-11-27T18:30:00Z  --policy FILE.cedar (default: the bundled set)
 * For a tool that is not built in (an upstream's): --server NAME --annotations '{"readOnlyHint":true}' --side-effects a,b
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadPolicy } from "../src/policy/node";
import { runCase, type PolicyTestCase } from "../src/policy/policy-tests";

const USAGE =
	"usage: npm run policy:explain -- --principal NAME --role ROLE --tool TOOL [--args JSON] [--groups a,b] [--at ISO-TIME] [--policy FILE]\n" +
	"       for an upstream tool also: --server NAME [--annotations JSON] [--side-effects a,b]";

function fail(message: string, code = 2): never {
	console.error(message);
	process.exit(code);
}

function json(name: string, raw: string | undefined): Record<string, unknown> | undefined {
	if (raw === undefined) return undefined;
	try {
		const value = JSON.parse(raw);
		if (value && typeof value === "object" && !Array.isArray(value)) return value;
	} catch {}
	fail(`--${name} must be a JSON object, e.g. --${name} '{"key":"value"}'`);
}

const list = (raw: string | undefined) =>
	raw
		?.split(",")
		.map((s) => s.trim())
		.filter(Boolean);

try {
	let values;
	try {
		({ values } = parseArgs({
			args: process.argv.slice(2).filter((a) => a !== "--"),
			options: {
				principal: { type: "string" },
				role: { type: "string" },
				groups: { type: "string" },
				tool: { type: "string" },
				args: { type: "string" },
				at: { type: "string" },
				policy: { type: "string" },
				server: { type: "string" },
				annotations: { type: "string" },
				"side-effects": { type: "string" },
			},
		}));
	} catch (error) {
		fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
	}
	if (!values.principal || !values.role || !values.tool) fail(USAGE);
	const at = values.at ?? new Date().toISOString();
	if (Number.isNaN(Date.parse(at))) fail(`--at must be an ISO 8601 time, e.g. 2026-11-27T18:30:00Z`);

	let text: string | undefined;
	if (values.policy) {
		try {
			text = readFileSync(values.policy, "utf8");
		} catch (error) {
			fail(`Cannot read ${values.policy}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
		}
	}
	const policy = loadPolicy(text);
	console.log(`local policy ${policy.id} (${values.policy ?? "bundled policies/default.cedar"})`);
	if (policy.error) {
		console.log(`decision: DENY (ERROR): ${policy.error}`);
		process.exit(1);
	}
	if (policy.warning) console.log(`WARNING: ${policy.warning}`);

	const request = {
		name: "explain",
		principal: values.principal,
		role: values.role,
		groups: list(values.groups),
		tool: values.tool,
		action: "call_tool",
		arguments: json("args", values.args) ?? {},
		server: values.server,
		annotations: json("annotations", values.annotations),
		sideEffects: list(values["side-effects"]),
		at,
		expect: "allow",
	} as PolicyTestCase;
	const explained = runCase(policy, request);
	const word = {
		allow: "permitted: Stage0 decides next",
		approval: "DEFER: held for a person's approval",
		forbid: "DENY: forbidden, no approval can lift it",
		error: "DENY (ERROR)",
	} as const;
	console.log(`decision: ${word[explained.outcome as keyof typeof word] ?? explained.outcome}`);
	console.log(`  ${explained.detail}`);
	const reasons = new Map(policy.policies.map((p) => [p.id, p.reason]));
	for (const id of explained.policies) console.log(`  - ${id}: ${reasons.get(id) || "(no @reason)"}`);
	console.log(`(${values.role} ${values.principal} at ${at}; Stage0 was not asked)`);
} catch (error) {
	fail(`policy:explain failed: ${error instanceof Error ? error.message : String(error)}`, 1);
}
