import { guardedCall } from "./src/guard/pipeline";
import { SimulatedAuthority } from "./src/guard/simulated-authority";
import { loadPolicy } from "./src/policy/node";
import { TOOLS } from "./src/tools/definitions";
const policy = loadPolicy();
const research = TOOLS.find((t) => t.name === "research-topic")!;
const runtime = { principal: "local", role: "developer" as const, sessionId: "s" };
const stub = { id: "x", source: "bundled" as const, decide: () => ({ kind: "permitted" as const }), lists: () => true };
const base = { authority: new SimulatedAuthority(), loops: { reserveAttempt: () => 1 }, maxRetries: 5, runtime };
async function bench(label: string, deps: any, n = 3000) {
	for (let i = 0; i < 300; i++) await guardedCall(research, { topic: "x" }, deps);
	const u0 = process.cpuUsage(); const t = performance.now();
	for (let i = 0; i < n; i++) await guardedCall(research, { topic: "x" }, deps);
	const u = process.cpuUsage(u0);
	console.log(label.padEnd(20), "cpu", ((u.user + u.system) / n).toFixed(1), "us wall", ((performance.now() - t) * 1000 / n).toFixed(1));
}
for (let k = 0; k < 2; k++) { await bench("stub policy", { ...base, policy: stub }); await bench("cedar policy", { ...base, policy }); }
