/**
 * The local policy inside workerd: cedar-wasm's web build, its .wasm bundled
 * by wrangler as a WebAssembly.Module and instantiated synchronously, and the
 * policy set parsed once per isolate (again only when GUARD_POLICY or the
 * tools change).
 */
import * as cedar from "@cedar-policy/cedar-wasm/web";
// Not in the package's exports map: wrangler resolves a module-rule import (.wasm) by Node's lookup without
// `exports`, wherever npm placed the package (hoisted, in a user's app, or here); the tests alias it the same way
// (vitest.config.ts). wrangler bundles it as a compiled WebAssembly.Module, its default export (typed by modules.d.ts).
import wasm from "@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm";
import bundledPolicy from "../../policies/default.cedar";
import schemaText from "../../policies/schema.cedarschema";
import type { JsonSchema } from "./arguments";
import { type CedarLocalPolicy, loadPolicySet } from "./engine";
import { choosePolicyText } from "./source";
import { BUILTIN_ARGUMENT_SCHEMAS } from "./tool-inputs";

let initialized = false;
let cached: { key: string; policy: CedarLocalPolicy } | undefined;

/** The local policy in force for GUARD_POLICY (Config.policyText); extra argument schemas are those of upstream tools. */
export function localPolicyFor(policyText: string | undefined, extraArgumentSchemas: readonly JsonSchema[] = []): CedarLocalPolicy {
	const { text, source } = choosePolicyText(policyText, bundledPolicy);
	const key = extraArgumentSchemas.length > 0 ? `${text}\u0000${JSON.stringify(extraArgumentSchemas)}` : text;
	if (cached?.key === key) return cached.policy;
	if (!initialized) {
		cedar.initSync({ module: wasm });
		initialized = true;
	}
	const policy = loadPolicySet(cedar, {
		text,
		source,
		schemaText,
		argumentSchemas: [...BUILTIN_ARGUMENT_SCHEMAS, ...extraArgumentSchemas],
	});
	cached = { key, policy };
	return policy;
}
