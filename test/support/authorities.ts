/**
 * Decisions and authorities for unit tests of the guard core: one builder of a
 * Decision, so that a change to its type is made here once, not in every test.
 */
import type { Authority, CheckRequest, Decision } from "../../src/guard/decision";
import type { Verdict } from "../../src/guard/enums";

/** The posture that goes with each verdict in a well-formed answer. */
const POSTURE: Record<Verdict, Decision["decision"]> = { ALLOW: "GO", DENY: "NO_GO", DEFER: "DEFER" };

/** A well-formed decision from Stage0 with this verdict; `fields` overrides any part of it. */
export function decision(verdict: Verdict, fields: Partial<Decision> = {}): Decision {
	return {
		verdict,
		decision: POSTURE[verdict],
		reason: `scripted ${verdict}`,
		request_id: "r",
		policy_version: "p",
		risk_score: 1,
		high_risk: false,
		issues: [],
		questions: [],
		guardrails: [],
		source: "stage0",
		latency_ms: 0,
		...fields,
	} as Decision; // the union's ALLOW-means-GO rule is what `fields` may deliberately break in a test
}

/** An authority that answers every check with this verdict, and keeps each request it was asked. */
export function scriptedAuthority(verdict: Verdict, fields: Partial<Decision> = {}): Authority & { seen: CheckRequest[] } {
	const seen: CheckRequest[] = [];
	return {
		mode: "stage0",
		seen,
		check(request) {
			seen.push(request);
			return Promise.resolve(decision(verdict, fields));
		},
	};
}
