/**
 * The local policy in Node (unit tests, npm run policy:check / policy:explain,
 * the bench): cedar-wasm's nodejs build, and the policy files read from disk.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import type { JsonSchema } from "./arguments";
import { type CedarLocalPolicy, loadPolicySet } from "./engine";
import { type PolicyTestResult, runPolicyTests } from "./policy-tests";
import { BUILTIN_ARGUMENT_SCHEMAS, inputSchemasOfToolList } from "./tool-inputs";

export const POLICIES_DIR = `${resolve(dirname(fileURLToPath(import.meta.url)), "../../policies")}/`;
export const DEFAULT_POLICY_FILE = `${POLICIES_DIR}default.cedar`;
export const SCHEMA_FILE = `${POLICIES_DIR}schema.cedarschema`;
export const POLICY_TESTS_DIR = `${POLICIES_DIR}tests/`;

export function bundledPolicyText(): string {
	return readFileSync(DEFAULT_POLICY_FILE, "utf8");
}

/** Loads a policy text as the server would (the bundled one unless given), with the built-in tools' argument types. */
export function loadPolicy(
	text: string = bundledPolicyText(),
	source: "bundled" | "GUARD_POLICY" = text === bundledPolicyText() ? "bundled" : "GUARD_POLICY",
	extraArgumentSchemas: readonly JsonSchema[] = [],
): CedarLocalPolicy {
	const schemaText = readFileSync(SCHEMA_FILE, "utf8");
	return loadPolicySet(cedar as never, {
		text,
		source,
		schemaText,
		argumentSchemas: [...BUILTIN_ARGUMENT_SCHEMAS, ...extraArgumentSchemas],
	});
}

/** Runs policies/tests/*.json against a policy set (and each file that names its own policy against that one). */
export function runPolicyTestFiles(policy: CedarLocalPolicy, dir: string = POLICY_TESTS_DIR): PolicyTestResult[] {
	const files = readdirSync(dir)
		.filter((name) => name.endsWith(".json"))
		.sort()
		.map((name) => ({ file: `policies/tests/${name}`, text: readFileSync(`${dir}${name}`, "utf8") }));
	return runPolicyTests(policy, files, (path) => loadPolicy(readFileSync(`${POLICIES_DIR}${path}`, "utf8"), "GUARD_POLICY"));
}

/** The input schemas of saved tools/list answers (`--tools FILE` of policy:check and policy:explain). Throws, naming the file. */
export function inputSchemasOfToolListFiles(files: readonly string[]): JsonSchema[] {
	return files.flatMap((file) => {
		let json: unknown;
		try {
			json = JSON.parse(readFileSync(file, "utf8"));
		} catch (error) {
			throw new Error(
				`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : "error")}`,
			);
		}
		try {
			return inputSchemasOfToolList(json);
		} catch (error) {
			throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
		}
	});
}
