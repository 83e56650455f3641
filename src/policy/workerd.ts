/**
 * The local policy inside workerd: cedar-wasm's web build, its .wasm bundled
 * by wrangler as a WebAssembly.Module and instantiated synchronously, and the
 * policy set parsed once per isolate (again only when GUARD_POLICY or the
 * recorded input schemas of upstream or library tools change).
 */
import * as cedar from "@cedar-policy/cedar-wasm/web";
// Not in the package's exports map: wrangler resolves a module-rule import (.wasm) by Node's lookup without
// `exports`, wherever npm placed the package (hoisted, in a user's app, or here); the tests alias it the same way
// (vitest.config.ts). wrangler bundles it as a compiled WebAssembly.Module, its default export (typed by modules.d.ts).
import wasm from "@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm";
import bundledPolicy from "../../policies/default.cedar";
import schemaText from "../../policies/schema.cedarschema";
import { type CedarLocalPolicy, loadPolicySet, policySetId } from "./engine";
import { choosePolicyText } from "./source";
import { BUILTIN_ARGUMENT_SCHEMAS, recordedInputSchemas } from "./tool-inputs";

let initialized = false;
let cached: { guardPolicy: string | undefined; toolsVersion: number; policy: CedarLocalPolicy } | undefined;

/**
 * The local policy in force for GUARD_POLICY (Config.policyText), with the argument types of the built-in tools, of the
 * upstream tools this isolate has seen listed and of the tools registered with guardTools in it (so a policy may read
 * their arguments; until such a tool is listed or registered, a policy that reads its arguments does not validate and
 * refuses everything). Asked per call: a hit compares two values.
 */
export function localPolicyFor(policyText: string | undefined): CedarLocalPolicy {
	const tools = recordedInputSchemas();
	if (cached && cached.guardPolicy === policyText && cached.toolsVersion === tools.version) return cached.policy;
	const { text, source } = choosePolicyText(policyText, bundledPolicy);
	// The same text with the same argument types is the same policy: keep it (and its decision cache).
	if (cached && cached.toolsVersion === tools.version && cached.policy.id === policySetId(text) && cached.policy.source === source) {
		cached = { ...cached, guardPolicy: policyText };
		return cached.policy;
	}
	if (!initialized) {
		cedar.initSync({ module: wasm });
		initialized = true;
	}
	const policy = loadPolicySet(cedar, {
		text,
		source,
		schemaText,
		argumentSchemas: [...BUILTIN_ARGUMENT_SCHEMAS, ...tools.schemas],
	});
	cached = { guardPolicy: policyText, toolsVersion: tools.version, policy };
	return policy;
}
