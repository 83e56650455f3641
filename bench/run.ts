/**
 * `npm run bench`: what the guard costs, measured against the real Worker.
 *
 * In one run of this process:
 *   1. the decision core alone (bench/core.ts, in a Node process of its own);
 *   2. the Worker in SIMULATED mode (no STAGE0_API_KEY), started with wrangler's
 *      unstable_startWorker on 127.0.0.1: MCP ping, GET /health, the unguarded
 *      baseline tool, guarded research-topic, retry-workflow (counter write)
 *      and publish-content (DENY), interleaved on one session; then 1, 8, 32
 *      and 128 sessions calling at once;
 *   3. the same, with the Durable Objects' SQLite on disk instead of tmpfs:
 *      ping, the baseline and the guarded paths only, to show the storage cost;
 *   4. the Worker in STAGE0 mode against the loopback Stage0 stand-in
 *      (test/support/stage0-standin.ts), answering at once and then 20 ms late,
 *      with the stand-in's own round trip measured in the same rounds.
 * Every server listens on 127.0.0.1 only; nothing else is contacted. Every
 * server is shut down at the end, also on failure, Ctrl-C or the time limit.
 *
 * Writes bench/results.json and the generated block of BENCHMARKS.md.
 * `npm run bench -- --quick` is a short smoke run: fewer calls, results to
 * bench/results.tmp.json, BENCHMARKS.md untouched.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type Stage0StandIn, startStage0StandIn } from "../test/support/stage0-standin";
import type { CoreResult } from "./core";
import {
	cleanup,
	closeSessions,
	cpuNow,
	runBenchMain,
	mcpOps,
	type Op,
	onCleanup,
	openSession,
	openSessions,
	ROOT,
	startWorker,
	storageBase,
	TOPIC,
	versionOf,
	workerVars,
} from "./harness";
import { type LatencyStats, markdownTable, median, round, summarize, table } from "./stats";

const QUICK = process.argv.includes("--quick");
const CONFIG = {
	warmRounds: QUICK ? 20 : 100,
	rounds: QUICK ? 60 : 300,
	/** With the stand-in 20 ms late, rounds take ~5x longer: fewer of them (still >= 200). */
	slowRounds: QUICK ? 40 : 200,
	levels: [1, 8, 32, 128],
	/** Calls per (level, op, batch): at least this many, and at least minPerSession per session. */
	callsPerBatch: QUICK ? 100 : 400,
	minPerSession: QUICK ? 2 : 5,
	/** Batches per (level, op), interleaved with the other ops' batches. */
	reps: QUICK ? 1 : 2,
	standinDelayMs: 20,
	timeLimitMs: 12 * 60_000,
};

interface Sequential {
	stats: Record<string, LatencyStats>;
	/** samples[op][round]: every op ran once per round, so rounds pair up. */
	samples: Record<string, number[]>;
}

/** Interleaved rounds on one session: each round runs every op once, in a rotated order. */
async function sequential(
	client: Client,
	ops: Op[],
	label: string,
	rounds = CONFIG.rounds,
	warmRounds = CONFIG.warmRounds,
): Promise<Sequential> {
	const t0 = performance.now();
	for (let r = 0; r < warmRounds; r++) for (const op of ops) await op.run(client);
	const samples: Record<string, number[]> = Object.fromEntries(ops.map((o) => [o.key, []]));
	for (let r = 0; r < rounds; r++) {
		for (let j = 0; j < ops.length; j++) {
			const op = ops[(j + r) % ops.length];
			const start = performance.now();
			await op.run(client);
			samples[op.key].push(performance.now() - start);
		}
	}
	const stats = Object.fromEntries(ops.map((o) => [o.key, summarize(samples[o.key])]));
	console.log(
		`  ${label}: ${warmRounds} warm-up + ${rounds} measured rounds of ${ops.length} ops in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
	);
	return { stats, samples };
}

/** Median over rounds of a - b (- c): the same comparison, paired within each round. */
function pairedMedian(samples: Record<string, number[]>, a: string, b: string, c?: string): number {
	return round(median(samples[a].map((x, r) => x - samples[b][r] - (c ? samples[c][r] : 0))));
}

interface ConcurrencyRow {
	sessions: number;
	op: string;
	calls: number;
	wall_ms: number;
	calls_per_s: number;
	latency: LatencyStats;
	/** CPU used during the batches, in % of one core. */
	cpu_node_pct: number;
	cpu_workerd_pct: number;
}

async function concurrency(url: URL, ops: Op[]): Promise<ConcurrencyRow[]> {
	const rows: ConcurrencyRow[] = [];
	for (const n of CONFIG.levels) {
		const t0 = performance.now();
		const clients = await openSessions(url, n);
		try {
			// Warm-up: every session runs every op twice.
			for (let k = 0; k < 2; k++) for (const op of ops) await Promise.all(clients.map((c) => op.run(c)));
			const perSession = Math.max(CONFIG.minPerSession, Math.ceil(CONFIG.callsPerBatch / n));
			const acc = new Map(ops.map((o) => [o.key, { samples: [] as number[], wall: 0, node: 0, workerd: 0 }]));
			for (let rep = 0; rep < CONFIG.reps; rep++) {
				for (let j = 0; j < ops.length; j++) {
					const op = ops[(j + rep) % ops.length];
					const a = acc.get(op.key)!;
					const cpu0 = cpuNow();
					const start = performance.now();
					await Promise.all(
						clients.map(async (c) => {
							for (let i = 0; i < perSession; i++) {
								const s = performance.now();
								await op.run(c);
								a.samples.push(performance.now() - s);
							}
						}),
					);
					a.wall += performance.now() - start;
					const cpu1 = cpuNow();
					a.node += cpu1.node_s - cpu0.node_s;
					a.workerd += cpu1.workerd_s - cpu0.workerd_s;
				}
			}
			for (const op of ops) {
				const a = acc.get(op.key)!;
				rows.push({
					sessions: n,
					op: op.key,
					calls: a.samples.length,
					wall_ms: round(a.wall, 1),
					calls_per_s: round((a.samples.length / a.wall) * 1000, 1),
					latency: summarize(a.samples),
					cpu_node_pct: round((a.node / (a.wall / 1000)) * 100, 0),
					cpu_workerd_pct: round((a.workerd / (a.wall / 1000)) * 100, 0),
				});
			}
		} finally {
			await closeSessions(clients);
		}
		console.log(`  ${n} session(s): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
	}
	return rows;
}

// ---------------------------------------------------------------- decision core

async function coreBench(): Promise<CoreResult[]> {
	const started = performance.now();
	const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/core.ts"), "--json"], {
		cwd: ROOT,
		stdio: ["ignore", "pipe", "inherit"],
	});
	const done = onCleanup("core bench", async () => void (child.exitCode === null && child.kill("SIGTERM")));
	let out = "";
	child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
	const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
	await done();
	if (code !== 0) throw new Error(`bench: the decision-core benchmark exited with ${code}`);
	console.log(`  decision core: ${((performance.now() - started) / 1000).toFixed(1)} s`);
	return JSON.parse(out.trim().split("\n").pop()!) as CoreResult[];
}

// ---------------------------------------------------------------- report

/** The commit measured, and whether src/ differs from it (the figures belong to that tree). */
function revision(): { commit: string; src_modified: boolean } {
	try {
		const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
		const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
		return { commit, src_modified: dirty };
	} catch {
		return { commit: "unknown", src_modified: false };
	}
}

function machine() {
	const cpus = os.cpus();
	return {
		cores: cpus.length,
		cpu_model: cpus[0]?.model ?? "unknown",
		memory_gib: round(os.totalmem() / 2 ** 30, 1),
		node: process.version,
		platform: `${os.platform()} ${os.release()} ${os.arch()}`,
		workerd: versionOf("workerd"),
		wrangler: versionOf("wrangler"),
		mcp_sdk: versionOf("@modelcontextprotocol/sdk"),
		agents: versionOf("agents"),
		zod: versionOf("zod"),
	};
}

function bar(value: number, scale: number, width: number): string {
	const n = Math.max(0, Math.round((Math.min(value, scale) / scale) * width));
	return "#".repeat(n) + (value > scale ? ">" : "");
}

function chart(items: { label: string; value: number; target?: number }[], scale = 2, width = 40): string {
	const labelWidth = Math.max(...items.map((i) => i.label.length));
	const one = Math.round(width / scale);
	const axis = `${" ".repeat(labelWidth)}  0${" ".repeat(one - 1)}1.0x${" ".repeat(Math.max(0, width - one - 4))}${scale.toFixed(1)}x`;
	const lines = items.map((i) => {
		const b = bar(i.value, scale, width).padEnd(width + 1);
		const t = i.target !== undefined ? `  (target ${i.label.includes("throughput") ? ">=" : "<="} ${i.target})` : "";
		return `${i.label.padEnd(labelWidth)} |${b} ${i.value.toFixed(2)}x${t}`;
	});
	return [axis, ...lines].join("\n");
}

function fmt(x: number): string {
	return x.toFixed(2);
}

// ---------------------------------------------------------------- main

const GUARDED_OPS = ["guarded", "retry", "deny"];

async function main(): Promise<void> {
	const runStarted = performance.now();
	const m = machine();
	const rev = revision();
	const load0 = os.loadavg();
	console.log(
		`edge-guard bench${QUICK ? " (quick)" : ""}: ${m.cores} cores (${m.cpu_model}), Node ${m.node}, workerd ${m.workerd}, wrangler ${m.wrangler}`,
	);
	console.log(`load average at start: ${load0.map((x) => x.toFixed(2)).join(" ")}`);

	console.log("\n[1/4] decision core (in-process micro-benchmark, own Node process)");
	const core = await coreBench();

	console.log(`\n[2/4] Worker, SIMULATED mode, Durable Object storage on tmpfs (${storageBase("tmpfs")})`);
	const sim = await startWorker("simulated worker", workerVars(), "simulated");
	console.log(`  started on ${sim.url.origin} in ${sim.startup_ms} ms`);
	const simClient = await openSession(sim.url);
	const simOps = mcpOps(sim.url, "simulated");
	const simSeq = await sequential(simClient, simOps, "sequential, one session");
	await simClient.close();
	const concOps = simOps.filter((o) => ["ping", "unguarded", "guarded"].includes(o.key));
	const conc = await concurrency(sim.url, concOps);
	await sim.close();

	console.log(`\n[3/4] Worker, SIMULATED mode, Durable Object storage on disk (${storageBase("disk")})`);
	const simDisk = await startWorker("simulated worker, disk", workerVars(), "simulated", { storage: "disk" });
	const diskClient = await openSession(simDisk.url);
	const diskOps = mcpOps(simDisk.url, "simulated").filter((o) => ["ping", "unguarded", "guarded", "retry", "deny"].includes(o.key));
	const diskSeq = await sequential(diskClient, diskOps, "sequential, one session");
	await diskClient.close();
	await simDisk.close();

	console.log(`\n[4/4] Worker, STAGE0 mode against the loopback stand-in (0 ms, then ${CONFIG.standinDelayMs} ms)`);
	const standin: Stage0StandIn = await startStage0StandIn({ apiKey: "bench-standin-key", delayMs: 0 });
	onCleanup("stage0 stand-in", () => standin.close());
	if (new URL(standin.url).hostname !== "127.0.0.1") throw new Error("bench: the stand-in is not on 127.0.0.1");
	const remote = await startWorker("stage0 worker", workerVars(standin), "stage0");
	console.log(`  stand-in on ${standin.url}, worker on ${remote.url.origin} (started in ${remote.startup_ms} ms)`);
	const remoteClient = await openSession(remote.url);
	// The stand-in is timed with the very body the Worker sends it for research-topic.
	await remoteClient.callTool({ name: "research-topic", arguments: TOPIC });
	const sent = standin.received.find((r) => r.body.tools?.[0] === "research-topic");
	if (!sent) throw new Error("bench: the Worker did not ask the stand-in");
	const standinBody = JSON.stringify(sent.body);
	const remoteOps = mcpOps(remote.url, "stage0", { url: standin.url, apiKey: standin.apiKey, body: () => standinBody });
	const remote0 = await sequential(remoteClient, remoteOps, "stand-in answers at once");
	standin.received.length = 0;
	standin.setDelay(CONFIG.standinDelayMs);
	// Already warm: a short warm-up for the new delay, then fewer (slower) rounds.
	const remote20 = await sequential(remoteClient, remoteOps, `stand-in answers after ${CONFIG.standinDelayMs} ms`, CONFIG.slowRounds, 20);
	standin.received.length = 0;
	await remoteClient.close();
	await cleanup();

	// ------------------------------------------------------------ figures
	const ratio = (a: number, b: number) => round(a / b, 3);
	const sequentialRows = (seq: Sequential, withStandin: boolean) =>
		Object.entries(seq.stats).map(([op, s]) => ({
			op,
			...s,
			ratio_to_ping: ratio(s.p50_ms, seq.stats.ping.p50_ms),
			ratio_to_unguarded: ratio(s.p50_ms, seq.stats.unguarded.p50_ms),
			paired_median_minus_ping_ms: pairedMedian(seq.samples, op, "ping"),
			paired_median_minus_unguarded_ms: pairedMedian(seq.samples, op, "unguarded"),
			...(withStandin && GUARDED_OPS.includes(op)
				? {
						p50_minus_standin_p50_ms: round(s.p50_ms - seq.stats.standin.p50_ms),
						overhead_over_ping_ms: round(s.p50_ms - seq.stats.standin.p50_ms - seq.stats.ping.p50_ms),
						paired_median_overhead_over_ping_ms: pairedMedian(seq.samples, op, "standin", "ping"),
						paired_median_overhead_over_unguarded_ms: pairedMedian(seq.samples, op, "standin", "unguarded"),
					}
				: {}),
		}));
	const concAt = (n: number, op: string) => conc.find((r) => r.sessions === n && r.op === op)!;
	const headline = core.find((c) => c.name === "decision: research-topic, simulated")!;
	const remotes = [
		[`stage0, stand-in 0 ms`, "remote-0ms", remote0],
		[`stage0, stand-in ${CONFIG.standinDelayMs} ms`, `remote-${CONFIG.standinDelayMs}ms`, remote20],
	] as const;

	const targets = [
		{
			id: "simulated-p50",
			target: "simulated: guarded p50 <= 1.3 x ping p50",
			value: ratio(simSeq.stats.guarded.p50_ms, simSeq.stats.ping.p50_ms),
			unit: "x",
			met: simSeq.stats.guarded.p50_ms <= 1.3 * simSeq.stats.ping.p50_ms,
		},
		...remotes.map(([name, id, seq]) => {
			const over = seq.stats.guarded.p50_ms - seq.stats.standin.p50_ms - seq.stats.ping.p50_ms;
			return {
				id,
				target: `${name}: guarded p50 - stand-in p50 <= ping p50 + 1 ms`,
				value: round(over),
				unit: "ms over ping",
				met: over <= 1,
			};
		}),
		{
			id: "core-decisions-per-s",
			target: "decision core: >= 200,000 decisions/s in one process",
			value: headline.ops_per_s,
			unit: "decisions/s",
			met: headline.ops_per_s >= 200_000,
		},
		{
			id: "local-policy-p50",
			target: "local policy decision (Cedar, pre-parsed): p50 < 50 us",
			value: round(core.find((c) => c.name === "p50: local policy (permitted)")!.ns_per_op / 1000),
			unit: "us",
			met: core.find((c) => c.name === "p50: local policy (permitted)")!.ns_per_op < 50_000,
		},
		{
			id: "throughput-32",
			target: "32 sessions: guarded calls/s >= 0.8 x ping calls/s",
			value: ratio(concAt(32, "guarded").calls_per_s, concAt(32, "ping").calls_per_s),
			unit: "x",
			met: concAt(32, "guarded").calls_per_s >= 0.8 * concAt(32, "ping").calls_per_s,
		},
	];

	const ratioItems: { label: string; value: number; target?: number }[] = [
		{ label: "simulated: guarded / ping p50", value: ratio(simSeq.stats.guarded.p50_ms, simSeq.stats.ping.p50_ms), target: 1.3 },
		{ label: "simulated: guarded / unguarded p50", value: ratio(simSeq.stats.guarded.p50_ms, simSeq.stats.unguarded.p50_ms) },
		{ label: "simulated: unguarded / ping p50", value: ratio(simSeq.stats.unguarded.p50_ms, simSeq.stats.ping.p50_ms) },
		{ label: "simulated: retry-workflow / ping p50", value: ratio(simSeq.stats.retry.p50_ms, simSeq.stats.ping.p50_ms) },
		{ label: "simulated: DENY / ping p50", value: ratio(simSeq.stats.deny.p50_ms, simSeq.stats.ping.p50_ms) },
		{ label: "simulated, disk: guarded / ping p50", value: ratio(diskSeq.stats.guarded.p50_ms, diskSeq.stats.ping.p50_ms) },
		...remotes.map(([name, , seq]) => ({
			label: `${name}: (guarded - stand-in) / ping p50`,
			value: ratio(seq.stats.guarded.p50_ms - seq.stats.standin.p50_ms, seq.stats.ping.p50_ms),
		})),
		...CONFIG.levels.map((n) => ({
			label: `${n} session${n > 1 ? "s" : ""}: guarded / ping throughput`,
			value: ratio(concAt(n, "guarded").calls_per_s, concAt(n, "ping").calls_per_s),
			...(n === 32 ? { target: 0.8 } : {}),
		})),
	];

	const results = {
		generated_at: new Date().toISOString(),
		quick: QUICK,
		duration_s: round((performance.now() - runStarted) / 1000, 1),
		revision: rev,
		machine: { ...m, load_average_start: load0.map((x) => round(x, 2)), load_average_end: os.loadavg().map((x) => round(x, 2)) },
		method: {
			worker:
				"wrangler unstable_startWorker on 127.0.0.1 with the project's wrangler.jsonc and the entry point bench/worker.ts (src/index.ts unchanged, plus one unguarded baseline tool); vars set explicitly (no .dev.vars); RATE_LIMIT_PER_MINUTE raised so the limiter admits the bench, but still runs on every call",
			storage: `Durable Object SQLite in a fresh directory on tmpfs (${storageBase("tmpfs")}) except phase 3 (disk, ${storageBase("disk")})`,
			client:
				"@modelcontextprotocol/sdk Client over StreamableHTTPClientTransport; listTools() once per session, so tool results are validated against their output schema",
			baseline_tool:
				"research-topic-unguarded, registered only in the bench build: the registered research-topic's title, schemas and annotations, the same action and renderReport() with a fixed ALLOW; no guard",
			sequential: `${CONFIG.warmRounds} warm-up rounds, then ${CONFIG.rounds} rounds on one session (stand-in 20 ms late: 20 and ${CONFIG.slowRounds}); each round runs every op once, order rotated per round`,
			concurrency: `sessions opened and warmed first; per level and op ${CONFIG.reps} batch(es) of max(${CONFIG.callsPerBatch}, ${CONFIG.minPerSession} x sessions) calls, closed loop, batches of different ops interleaved`,
			standin:
				"test/support/stage0-standin.ts in this process on 127.0.0.1 ('policy' behaviour); its own latency is a direct POST /check with the Worker's own body, timed in the same rounds",
			core: "bench/core.ts in a Node process of its own: calibration, one warm-up sample, then the median of 7 samples of ~100 ms",
		},
		core,
		workers: {
			simulated: { startup_ms: sim.startup_ms, health: sim.health },
			simulated_disk: { startup_ms: simDisk.startup_ms },
			stage0: { startup_ms: remote.startup_ms, health: remote.health },
		},
		sequential: {
			simulated: sequentialRows(simSeq, false),
			simulated_storage_on_disk: sequentialRows(diskSeq, false),
			stage0_standin_0ms: sequentialRows(remote0, true),
			[`stage0_standin_${CONFIG.standinDelayMs}ms`]: sequentialRows(remote20, true),
		},
		concurrency: conc.map((r) => ({ ...r, throughput_ratio_to_ping: ratio(r.calls_per_s, concAt(r.sessions, "ping").calls_per_s) })),
		ratios: ratioItems,
		targets,
	};

	// ------------------------------------------------------------ print
	const seqTable = (title: string, seq: Sequential, ops: Op[], withStandin: boolean, md: boolean) => {
		const head = ["op", "n", "p50 ms", "p95 ms", "p99 ms", "mean ms", "p50 / ping", "p50 / unguarded", "paired - unguarded, ms"];
		const rows: (string | number)[][] = [withStandin ? [...head, "p50 - stand-in - ping, ms"] : head];
		for (const op of ops) {
			const s = seq.stats[op.key];
			const guardedOp = GUARDED_OPS.includes(op.key);
			const over = withStandin && guardedOp ? fmt(s.p50_ms - seq.stats.standin.p50_ms - seq.stats.ping.p50_ms) : "";
			const paired = guardedOp ? fmt(pairedMedian(seq.samples, op.key, "unguarded", withStandin ? "standin" : undefined)) : "";
			rows.push([
				op.label,
				s.n,
				s.p50_ms,
				s.p95_ms,
				s.p99_ms,
				s.mean_ms,
				`${fmt(s.p50_ms / seq.stats.ping.p50_ms)}x`,
				`${fmt(s.p50_ms / seq.stats.unguarded.p50_ms)}x`,
				paired,
				...(withStandin ? [over] : []),
			]);
		}
		return `${md ? `**${title}**` : title}\n\n${md ? markdownTable(rows) : table(rows)}`;
	};
	const concTable = (md: boolean) => {
		const rows: (string | number)[][] = [
			["sessions", "op", "calls", "calls/s", "p50 ms", "p95 ms", "p99 ms", "calls/s / ping", "CPU node %", "CPU workerd %"],
		];
		for (const r of results.concurrency) {
			rows.push([
				r.sessions,
				r.op,
				r.calls,
				r.calls_per_s,
				r.latency.p50_ms,
				r.latency.p95_ms,
				r.latency.p99_ms,
				`${fmt(r.throughput_ratio_to_ping)}x`,
				r.cpu_node_pct,
				r.cpu_workerd_pct,
			]);
		}
		return md ? markdownTable(rows) : table(rows);
	};
	const coreTable = (md: boolean) => {
		const rows: (string | number)[][] = [["case", "ns/op", "per second"]];
		for (const c of core) rows.push([c.name, c.ns_per_op, c.ops_per_s]);
		return md ? markdownTable(rows) : table(rows);
	};
	const targetTable = (md: boolean) => {
		const rows: (string | number)[][] = [["target", "measured", "met"]];
		for (const t of targets) {
			const value = t.unit === "decisions/s" ? Math.round(t.value).toLocaleString("en-US") : fmt(t.value);
			rows.push([t.target, `${value} ${t.unit}`, t.met ? "yes" : "NO"]);
		}
		return md ? markdownTable(rows) : table(rows);
	};
	const ratioChart = chart(ratioItems);

	const simTitle = "Simulated mode, one session, sequential (storage on tmpfs)";
	const diskTitle = "Simulated mode, one session, sequential, storage on disk";
	const r0Title = "Stage0 mode, stand-in answering at once";
	const r20Title = `Stage0 mode, stand-in answering after ${CONFIG.standinDelayMs} ms`;
	console.log(`\n${seqTable(simTitle, simSeq, simOps, false, false)}`);
	console.log(`\n${seqTable(diskTitle, diskSeq, diskOps, false, false)}`);
	console.log(`\n${seqTable(r0Title, remote0, remoteOps, true, false)}`);
	console.log(`\n${seqTable(r20Title, remote20, remoteOps, true, false)}`);
	console.log(`\nConcurrency, simulated mode (closed loop, every session calling at once)\n\n${concTable(false)}`);
	console.log(`\nDecision core (Node ${m.node}, one process)\n\n${coreTable(false)}`);
	console.log(`\nRatios (p50 latency, or throughput)\n\n${ratioChart}`);
	console.log(`\nTargets\n\n${targetTable(false)}`);

	// ------------------------------------------------------------ write
	const resultsPath = join(ROOT, QUICK ? "bench/results.tmp.json" : "bench/results.json");
	writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
	console.log(`\nwrote ${resultsPath.slice(ROOT.length)}`);
	if (!QUICK) {
		const block = [
			`Generated by \`npm run bench\` on ${results.generated_at.slice(0, 16).replace("T", " ")} UTC in ${results.duration_s} s, at commit ${rev.commit}${rev.src_modified ? " with uncommitted changes in src/" : ""}: ${m.cores} cores (${m.cpu_model}), ${m.memory_gib} GiB, Node ${m.node}, workerd ${m.workerd}, wrangler ${m.wrangler}, MCP SDK ${m.mcp_sdk}, agents ${m.agents}, zod ${m.zod}. Load average at start ${load0.map((x) => x.toFixed(2)).join(" ")}. Raw figures: \`bench/results.json\`.`,
			"",
			"#### Targets",
			"",
			targetTable(true),
			"",
			"#### Ratios",
			"",
			"```text",
			ratioChart,
			"```",
			"",
			"#### Latency, one session",
			"",
			"`paired - unguarded` is the median over rounds of (this op - the unguarded baseline" +
				" [- the stand-in]) measured in the same round: the guard's cost, with drift between rounds removed.",
			"",
			seqTable(simTitle, simSeq, simOps, false, true),
			"",
			seqTable(diskTitle, diskSeq, diskOps, false, true),
			"",
			seqTable(r0Title, remote0, remoteOps, true, true),
			"",
			seqTable(r20Title, remote20, remoteOps, true, true),
			"",
			"#### Concurrency, simulated mode",
			"",
			concTable(true),
			"",
			"#### Decision core",
			"",
			coreTable(true),
		].join("\n");
		updateBenchmarksMd(block);
		console.log("updated the generated block of BENCHMARKS.md");
	}
}

const BEGIN = "<!-- bench:begin (generated by npm run bench; edits inside are overwritten) -->";
const END = "<!-- bench:end -->";

function updateBenchmarksMd(block: string): void {
	const path = join(ROOT, "BENCHMARKS.md");
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch {
		text = "# Benchmarks\n\n## Latest figures\n\n";
	}
	const begin = text.indexOf(BEGIN);
	const end = text.indexOf(END);
	const generated = `${BEGIN}\n${block}\n${END}`;
	text =
		begin >= 0 && end > begin ? text.slice(0, begin) + generated + text.slice(end + END.length) : `${text.trimEnd()}\n\n${generated}\n`;
	writeFileSync(path, text);
}

await runBenchMain(main, CONFIG.timeLimitMs);
