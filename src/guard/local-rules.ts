/**
 * The local rule table: what a role may do at all, applied before Stage0 is
 * asked, in every mode. It can only restrict. Stage0 may add restrictions on
 * top, but nothing it answers can lift these (defense in depth).
 *
 *   viewer     no side effects at all
 *   developer  deploys to development and staging; production only with an approval
 *   admin      production only with an approval
 */
export const ROLES = ["admin", "developer", "viewer"] as const;
export type RoleName = (typeof ROLES)[number];

export type RuleOutcome =
	| { kind: "permitted" }
	/** Refused outright; no approval can change it. */
	| { kind: "forbidden"; rule: string; reason: string }
	/** Refused until a person approves this exact call. */
	| { kind: "needs-approval"; rule: string; reason: string };

export interface RuleInput {
	role: RoleName;
	sideEffects: readonly string[];
	environment?: unknown;
}

const DEPLOY_EFFECTS = new Set(["deploy", "deployment"]);

export function applyLocalRules({ role, sideEffects, environment }: RuleInput): RuleOutcome {
	const effects = sideEffects.map((s) => s.trim().toLowerCase()).filter(Boolean);
	if (effects.length === 0) return { kind: "permitted" };
	if (role === "viewer") {
		return {
			kind: "forbidden",
			rule: "viewer-read-only",
			reason: `role 'viewer' may not cause side effects (${effects.join(", ")})`,
		};
	}
	if (effects.some((e) => DEPLOY_EFFECTS.has(e)) && environment === "production") {
		return {
			kind: "needs-approval",
			rule: `${role}-production-needs-approval`,
			reason: `role '${role}' may deploy to production only with an approval`,
		};
	}
	return { kind: "permitted" };
}

/** Whether a tool with these declared side effects could ever be allowed for the role. */
export function roleMayEverUse(role: RoleName, declaredSideEffects: readonly string[]): boolean {
	return role !== "viewer" || declaredSideEffects.length === 0;
}
