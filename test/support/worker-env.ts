/**
 * Every variable the Worker reads, so that each test project can set all of
 * them and none comes from a developer's .dev.vars or .env. Imported by
 * vitest.config.ts (Node) and by tests inside workerd.
 */
import type { Env } from "../../src/config";
import { VARIABLES, type VariableName } from "../../src/variables.ts";

/** The string-valued keys of Env: its variables (the rest are Durable Object namespaces). */
type EnvVariable = { [K in keyof Env]-?: NonNullable<Env[K]> extends string ? K : never }[keyof Env];
/** A variable in Env but not in src/config.ts's table fails tsc here. */
const everyEnvVariableIsInTheTable: [Exclude<EnvVariable, VariableName>] extends [never] ? true : false = true;
void everyEnvVariableIsInTheTable;

/** The table of src/config.ts: the one list of the Worker's variables. */
export const WORKER_VARIABLES = Object.keys(VARIABLES) as VariableName[];

/** The binding through which a test project tells its tests which values it set. */
export const EXPECTED_BINDINGS = "TEST_EXPECTED_BINDINGS";

/**
 * All of the Worker's variables: wrangler.jsonc's vars, an empty string (= not
 * set: no Stage0 key, no tokens) for the rest, then the project's own values.
 */
export function hermeticBindings(configVars: Record<string, unknown>, project: Record<string, string>): Record<string, string> {
	const all: Record<string, string> = {};
	for (const name of WORKER_VARIABLES) {
		const fromConfig = configVars[name];
		all[name] = typeof fromConfig === "string" ? fromConfig : "";
	}
	Object.assign(all, project);
	return { ...all, [EXPECTED_BINDINGS]: JSON.stringify(all) };
}
