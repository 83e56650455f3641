/**
 * `npm run test:load [-- --calls N --seconds S --sessions K --seed X]`: the
 * soak by hand (default: a few thousand calls), printing each invariant with
 * PASS or FAIL; exits 1 if any failed.
 */
import { parseArgs } from "node:util";
import { formatReport, runSoak } from "./soak";

const { values } = parseArgs({
	options: {
		calls: { type: "string", default: "3000" },
		seconds: { type: "string", default: "900" },
		sessions: { type: "string", default: "24" },
		seed: { type: "string", default: String(Date.now() % 100_000) },
	},
});
const number = (name: keyof typeof values) => {
	const n = Number(values[name]);
	if (!Number.isInteger(n) || n < 1) {
		console.error(`--${name} must be a positive whole number`);
		process.exit(2);
	}
	return n;
};

const report = await runSoak({
	calls: number("calls"),
	seconds: number("seconds"),
	sessions: number("sessions"),
	seed: number("seed"),
	log: (line) => console.log(line),
});
console.log(formatReport(report));
process.exit(report.invariants.every((i) => i.pass) ? 0 : 1);
