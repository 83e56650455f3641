/**
 * A policy about an upstream tool's arguments: the argument types come from the tools/list of the test upstream
 * (the SDK's own server on loopback), so such a policy validates, decides on the call's arguments, and a wrong
 * field or type fails with line and column, in the engine and in `npm run policy:check -- --tools`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeCall } from "../../src/guard/local-policy";
import type { JsonSchema } from "../../src/policy/arguments";
import { argumentsType } from "../../src/policy/arguments";
import { loadPolicy } from "../../src/policy/node";
import { inputSchemasOfToolList, recordUpstreamInputSchemas, recordedInputSchemas } from "../../src/policy/tool-inputs";
import { startUpstreamMcp, type UpstreamMcp } from "../support/upstream-mcp";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "edge-guard-upstream-args-"));
let upstream: UpstreamMcp;
let listed: { tools: unknown[] };
let schemas: JsonSchema[];

beforeAll(async () => {
	upstream = await startUpstreamMcp();
	const client = new Client({ name: "policy-test", version: "1" });
	await client.connect(new StreamableHTTPClientTransport(new URL(upstream.url)));
	listed = await client.listTools();
	await client.close();
	schemas = inputSchemasOfToolList(listed);
	// Saved as a person saves it: the JSON-RPC answer of tools/list.
	writeFileSync(join(dir, "files-tools.json"), JSON.stringify({ jsonrpc: "2.0", id: 1, result: listed }));
}, 60_000);
afterAll(async () => {
	await upstream?.close();
	rmSync(dir, { recursive: true, force: true });
});

const PERMIT = '@id("guarded-tools") permit (principal, action == Action::"call_tool", resource);\n';
const NO_SECRET_SEARCH = `${PERMIT}@id("no-secret-search") @reason("nobody searches for secrets")
forbid (principal, action == Action::"call_tool", resource == Tool::"files.search")
when { context.arguments has query && context.arguments.query like "*secret*" };
@id("slow-needs-a-person") @reason("long waits need a person")
forbid (principal, action == Action::"call_tool", resource == Tool::"files.slow")
when { context.arguments has ms && context.arguments.ms > 1000 } unless { context.approved };
`;
const developer = { principal: "alice", role: "developer" };
const call = (tool: string, args: Record<string, unknown>) =>
	describeCall({
		tool: { name: `files.${tool}`, server: "files", annotations: { readOnlyHint: true } },
		sideEffects: [],
		args,
		context: {},
		caller: developer,
		at: Date.now(),
	});

describe("a policy about an upstream tool's arguments", () => {
	it("without the upstream's tools, can never apply: refused with line and column (not silently switched off)", () => {
		expect(loadPolicy(NO_SECRET_SEARCH).error).toMatch(
			/policy 'no-secret-search' can never apply \(.*\) at line 2, column 1: .*policy is impossible/,
		);
	});

	it("validates with the upstream's argument types, and permits, forbids or holds by the call's arguments", () => {
		const policy = loadPolicy(NO_SECRET_SEARCH, "GUARD_POLICY", schemas);
		expect(policy.error).toBeUndefined();
		expect(policy.decide(call("search", { query: "quarterly reports" })).kind).toBe("permitted");
		expect(policy.decide(call("search", { query: "top secret plans" }))).toMatchObject({
			kind: "forbidden",
			policies: [{ id: "no-secret-search", reason: "nobody searches for secrets" }],
		});
		expect(policy.decide(call("slow", { ms: 10 })).kind).toBe("permitted");
		expect(policy.decide(call("slow", { ms: 5000 })).kind).toBe("needs-approval");
	});

	it("fails with line and column on a field the upstream's tools do not take, or on a wrong type", () => {
		const wrongField = `${PERMIT}@id("typo")\nforbid (principal, action == Action::"call_tool", resource) when { context.arguments has quer && context.arguments.quer == "x" };`;
		expect(loadPolicy(wrongField, "GUARD_POLICY", schemas).error).toMatch(/policy 'typo' can never apply .* at line 2, column 1/);
		const wrongType = `${PERMIT}@id("ms-as-text")\nforbid (principal, action == Action::"call_tool", resource) when { context.arguments has ms && context.arguments.ms == "5" };`;
		expect(loadPolicy(wrongType, "GUARD_POLICY", schemas).error).toMatch(
			/policy 'ms-as-text' does not validate against the schema at line 3, column \d+/,
		);
	});

	it("leaves out what Cedar cannot represent or what two tools type differently, never guessing a type", () => {
		const type = argumentsType([
			{
				type: "object",
				properties: { ratio: { type: "number" }, maybe: { type: ["string", "null"] }, ref: { $ref: "#/$defs/x" } as JsonSchema },
			},
			{ type: "object", properties: { id: { type: "string" } } },
			{ type: "object", properties: { id: { type: "integer" }, tags: { type: "array", items: { type: "string" } } } },
		]);
		expect(type.attributes).toEqual({ tags: { type: "Set", element: { type: "String" }, required: false } });
		const conflicting = [{ type: "object", properties: { query: { type: "integer" } } }, ...schemas];
		expect(loadPolicy(NO_SECRET_SEARCH, "GUARD_POLICY", conflicting).error).toMatch(/'no-secret-search' can never apply/);
	});

	it("takes the tools of every list an isolate sees, and a changed list changes the version", () => {
		const before = recordedInputSchemas().version;
		recordUpstreamInputSchemas("files", listed.tools as { inputSchema?: unknown }[]);
		const once = recordedInputSchemas();
		recordUpstreamInputSchemas("files", listed.tools as { inputSchema?: unknown }[]);
		expect(recordedInputSchemas().version).toBe(once.version);
		expect(once.version).toBe(before + 1);
		expect(loadPolicy(NO_SECRET_SEARCH, "GUARD_POLICY", [...once.schemas]).error).toBeUndefined();
	});
});

function policyCheck(...args: string[]) {
	return script("policy-check", ...args);
}

function script(name: string, ...args: string[]) {
	const run = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, `scripts/${name}.ts`), ...args], {
		cwd: dir,
		encoding: "utf8",
		timeout: 60_000,
	});
	return { code: run.status, out: run.stdout, err: run.stderr };
}

describe("npm run policy:check -- --tools", { timeout: 90_000 }, () => {
	it("validates a policy about an upstream tool's argument with the saved tools/list, and fails with line and column without it", () => {
		writeFileSync(join(dir, "team.cedar"), NO_SECRET_SEARCH);
		const ok = policyCheck("team.cedar", "--tools", "files-tools.json");
		expect(ok.err).toBe("");
		expect(ok.out).toContain("team.cedar: parses and validates against the schema with the argument types of files-tools.json");
		const without = policyCheck("team.cedar");
		expect(without.code).toBe(1);
		expect(without.err).toMatch(/^team\.cedar: policy 'no-secret-search' can never apply .* at line 2, column 1: /);
	});

	it("fails with line and column on a wrong type, and clearly on a file that is not a tools/list", () => {
		writeFileSync(
			join(dir, "wrong.cedar"),
			`${PERMIT}@id("ms-as-text")\nforbid (principal, action == Action::"call_tool", resource) when { context.arguments has ms && context.arguments.ms == "5" };`,
		);
		const wrong = policyCheck("wrong.cedar", "--tools", "files-tools.json");
		expect(wrong.code).toBe(1);
		expect(wrong.err).toMatch(/^wrong\.cedar: policy 'ms-as-text' does not validate against the schema at line 3, column \d+: /);
		writeFileSync(join(dir, "not-tools.json"), '{"hello": 1}');
		const bad = policyCheck("wrong.cedar", "--tools", "not-tools.json");
		expect(bad.code).toBe(2);
		expect(bad.err).toContain("not-tools.json: expected a tools/list answer");
	});

	it("policy:explain decides on an upstream tool's argument with --tools", () => {
		writeFileSync(join(dir, "explain.cedar"), NO_SECRET_SEARCH);
		const base = [
			"--principal",
			"alice",
			"--role",
			"developer",
			"--tool",
			"files.search",
			"--server",
			"files",
			"--policy",
			"explain.cedar",
		];
		const explained = script(
			"policy-explain",
			...base,
			"--annotations",
			'{"readOnlyHint":true}',
			"--args",
			'{"query":"top secret"}',
			"--tools",
			"files-tools.json",
		);
		expect(explained.err).toBe("");
		expect(explained.out).toContain("decision: DENY: forbidden, no approval can lift it");
		expect(explained.out).toContain("- no-secret-search: nobody searches for secrets");
	});
});
