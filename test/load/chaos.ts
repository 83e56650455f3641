/**
 * What the soak's Stage0 stand-in answers, request by request: genuine
 * verdicts mixed with every fault issue 8 names (hang, 5xx, 429, not JSON,
 * unknown verdict, redirect to the attacker, dropped connection, the key
 * echoed in a valid answer, an answer over 1 MB). Drawn from a seeded
 * generator, so a run can be repeated.
 */
import type { Behaviour } from "../support/stage0-standin";

/** A small, fast, seedable generator (mulberry32): the same seed, the same draws. */
export function seededRandom(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export function pick<T>(random: () => number, weighted: readonly (readonly [number, T])[]): T {
	const total = weighted.reduce((sum, [w]) => sum + w, 0);
	let r = random() * total;
	for (const [w, value] of weighted) {
		r -= w;
		if (r < 0) return value;
	}
	return weighted[weighted.length - 1][1];
}

/** Over 1 MB, the cap issue 8 asks the Stage0 client to enforce. */
export const OVERSIZED_ANSWER_BYTES = 1_200_000;

/** Picks each answer's behaviour, and counts how often each kind was picked. */
export function chaosChooser(
	random: () => number,
	attackerUrl: string,
): { choose: () => Behaviour; counts: Map<Behaviour["kind"], number> } {
	const verdict = () =>
		pick(random, [
			[3, "ALLOW"],
			[1, "DENY"],
			[1, "DEFER"],
		] as const);
	const counts = new Map<Behaviour["kind"], number>();
	const draw = () =>
		pick<() => Behaviour>(random, [
			[30, () => ({ kind: "policy" })],
			[14, () => ({ kind: "verdict", verdict: "ALLOW" })],
			[5, () => ({ kind: "verdict", verdict: "DENY" })],
			[5, () => ({ kind: "verdict", verdict: "DEFER" })],
			[4, () => ({ kind: "hang" })],
			[5, () => ({ kind: "status", status: 503, body: { message: "temporarily unavailable" } })],
			[2, () => ({ kind: "status", status: 500, body: { error: "internal error" } })],
			[5, () => ({ kind: "status", status: 429, body: { retry_after_seconds: 7 }, headers: { "retry-after": "7" } })],
			[4, () => ({ kind: "raw", status: 200, body: "<html>upstream proxy error</html>" })],
			[
				4,
				() => ({
					kind: "raw",
					status: 200,
					body: JSON.stringify({ verdict: "MAYBE", decision: "GO", request_id: `odd-${crypto.randomUUID()}` }),
				}),
			],
			[4, () => ({ kind: "redirect", status: 307, location: `${attackerUrl}/check` })],
			[2, () => ({ kind: "redirect", status: 302, location: `${attackerUrl}/check` })],
			[5, () => ({ kind: "drop" })],
			[6, () => ({ kind: "echo-key", verdict: verdict() })],
			[2, () => ({ kind: "oversized", verdict: "ALLOW", bytes: OVERSIZED_ANSWER_BYTES })],
		])();
	return {
		choose: () => {
			const b = draw();
			counts.set(b.kind, (counts.get(b.kind) ?? 0) + 1);
			return b;
		},
		counts,
	};
}
