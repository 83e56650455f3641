/**
 * The short soak inside `npm test`: the same run as `npm run test:load`
 * (test/load/soak.ts), with a few hundred calls, one crash and restart of the
 * Worker, and every invariant required to pass.
 */
import { expect, it } from "vitest";
import { formatReport, runSoak } from "../load/soak";

it("stays closed under a short soak: random Stage0 faults, hostile clients, a crash and a restart", async () => {
	const report = await runSoak({ calls: 200, seconds: 60, seed: 20261126 });
	console.log(formatReport(report));
	const failed = report.invariants.filter((i) => !i.pass).map((i) => `${i.name}: ${i.detail}`);
	expect(failed, formatReport(report)).toEqual([]);
	expect(report.invariants.length).toBeGreaterThanOrEqual(16);
}, 600_000);
