/**
 * Loop budgets are keyed on a normalised workflow id: variants a person would
 * read as the same id share one budget, in the session and across sessions.
 */
import { describe, expect, it } from "vitest";
import { normalizeLoopKey } from "../../src/guard/loop-key";
import type { Authority } from "../../src/guard/decision";
import { type GuardDeps, type GuardedTool, guardedCall } from "../../src/guard/pipeline";
import { ok } from "../../src/guard/result";
import { loadPolicy } from "../../src/policy/node";
import { scriptedAuthority } from "../support/authorities";

/** Variants of "nightly-x" that each used to get a fresh MAX_RETRIES. */
const VARIANTS = [
	"nightly-x",
	"NIGHTLY-X",
	"nightly-x\u200b", // zero-width space
	"\u202enightly-x", // right-to-left override
	"night\u00adly-x", // soft hyphen
	"nightly-x\u0000", // a control character
	"ｎｉｇｈｔｌｙ－ｘ", // fullwidth
	"nightly-\u0445", // Cyrillic ha
	"n\u0456ghtly-x", // Cyrillic i
	"nightly\u2010x", // a Unicode hyphen
	"  nightly-x\t", // whitespace around
	"𝐧𝐢𝐠𝐡𝐭𝐥𝐲-𝐱", // mathematical bold
	"nı\u0301ghtly-x", // dotless i with a combining accent
];

describe("normalizeLoopKey", () => {
	it.each(VARIANTS)("%j is the same key as nightly-x", (variant) => {
		expect(normalizeLoopKey(variant)).toBe("nightly-x");
	});

	it("collapses inner whitespace, and keeps ids that differ visibly apart", () => {
		expect(normalizeLoopKey("nightly \u00a0 \u3000 x")).toBe("nightly x");
		expect(normalizeLoopKey("nightly-x")).not.toBe(normalizeLoopKey("nightly-y"));
		expect(normalizeLoopKey("etl-1")).not.toBe(normalizeLoopKey("etl-2"));
	});

	it.each(["", "\u200b\u200b", "\u202e\u2066", " \t\n", "\u0000\u0007", "\u3164"])("%j is empty once normalised", (raw) => {
		expect(normalizeLoopKey(raw)).toBe("");
	});
});

const allow: Authority = scriptedAuthority("ALLOW");

function loopDeps() {
	const session = new Map<string, number>();
	const principal = new Map<string, number>();
	const keys: { session: string[]; principal: string[] } = { session: [], principal: [] };
	const bump = (m: Map<string, number>, k: string) => {
		m.set(k, (m.get(k) ?? 0) + 1);
		return m.get(k)!;
	};
	const deps: GuardDeps = {
		authority: allow,
		policy: loadPolicy(),
		maxRetries: 3,
		runtime: { principal: "alice", role: "developer", sessionId: "s-1" },
		loops: { reserveLoopAttempt: (tool, key) => (keys.session.push(key), bump(session, `${tool}/${key}`)) },
		budget: {
			admitCall: async () => ok(undefined),
			reserveLoopAttempt: async (tool, key) => (keys.principal.push(key), bump(principal, `${tool}/${key}`)),
		},
	};
	return { deps, keys };
}

const retry: GuardedTool<{ workflowId: string }, { ran: true }> = {
	name: "retry-workflow",
	kind: "action",
	sideEffects: ["loop"],
	intent: ({ workflowId }) => ({ goal: `Retry ${workflowId}`, success_criteria: ["ok"] }),
	loop: { key: ({ workflowId }) => workflowId, claimedRetryCount: () => undefined },
	run: () => ({ ran: true }),
};

describe("guardedCall: loop keys", () => {
	it("variants of one workflow id share one budget, in the session and across sessions", async () => {
		const { deps, keys } = loopDeps();
		const verdicts: string[] = [];
		for (const workflowId of VARIANTS.slice(0, 5)) verdicts.push((await guardedCall(retry, { workflowId }, deps)).decision.verdict);
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "DEFER", "DEFER"]);
		expect(new Set(keys.session)).toEqual(new Set(["nightly-x"]));
		expect(new Set(keys.principal)).toEqual(new Set(["nightly-x"]));
	});

	it("refuses an id that is empty once normalised, without counting or asking", async () => {
		const { deps, keys } = loopDeps();
		let asked = 0;
		deps.authority = { mode: "stage0", check: (r) => (asked++, allow.check(r)) };
		const out = await guardedCall(retry, { workflowId: "\u200b\u202e" }, deps);
		expect(out.decision).toMatchObject({ verdict: "DENY", source: "local-rule" });
		expect(out.decision.issues[0].code).toBe("INVALID_LOOP_KEY");
		expect(out.decision.reason).toMatch(/empty once invisible, control and formatting characters are removed/);
		expect(out.action.status).toBe("not_run");
		expect(keys.session).toEqual([]);
		expect(asked).toBe(0);
	});
});
