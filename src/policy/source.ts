/**
 * Which policy text is in force, and how the server describes it (GET /, the
 * start-up log). Shared by the workerd and Node loaders.
 */
import type { LocalPolicy } from "../guard/local-policy";

/** GUARD_POLICY replaces the bundled set when it holds any text; unset or blank means the bundled set. */
export function choosePolicyText(guardPolicy: string | undefined, bundled: string): { text: string; source: LocalPolicy["source"] } {
	return guardPolicy !== undefined && guardPolicy.trim() !== ""
		? { text: guardPolicy, source: "GUARD_POLICY" }
		: { text: bundled, source: "bundled" };
}

/** What GET / shows about the local policy (never its text). */
export function policyStatus(policy: LocalPolicy) {
	return {
		id: policy.id,
		source: policy.source,
		status: policy.error ? ("error" as const) : ("ok" as const),
		...(policy.error ? { error: `${policy.error}. Every guarded call is refused until the policy set is fixed.` } : {}),
		...(policy.warning ? { warning: policy.warning } : {}),
	};
}

/** One start-up log line. */
export function policyLogLine(policy: LocalPolicy): string {
	const name = `local policy ${policy.id} (${policy.source === "bundled" ? "bundled policies/default.cedar" : "GUARD_POLICY"})`;
	if (policy.error) return `stage0-edge-guard: ${name} CANNOT BE USED, every guarded call is refused: ${policy.error}`;
	return `stage0-edge-guard: ${name}${policy.warning ? `; WARNING: ${policy.warning}` : ""}`;
}
