/**
 * Where a guarded call's time goes, inside the Worker. Not part of
 * `npm run bench` (profiling slows what it measures); run it by hand:
 *
 *   npx tsx bench/profile.ts [--calls 300] [--remote] [--no-cpu] [--disk] [--gateway] [--sessions N]
 *
 * It starts the bench build on 127.0.0.1 with the V8 inspector (also on
 * 127.0.0.1) and BENCH_TRACE=1, then for each op runs sequential calls on one
 * session while the isolate's CPU profiler samples, and reads back the
 * Durable Object's own timings of its handlers, RPCs and fetches.
 *
 * Prints, per op: the client's latency, the handler's time, each RPC's time
 * and count per call, and the isolate's CPU per call split by module (zod, MCP
 * SDK, agents, src/guard, src/state, ... found from the bundle's module
 * comments). With --gateway, the Worker also fronts an upstream MCP server
 * (the SDK's, test/support/upstream-mcp.ts, on 127.0.0.1) and one more op
 * forwards `upstream.search` to it. Raw profiles and the summary go to
 * bench/results.tmp-profile/.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { startStage0StandIn } from "../test/support/stage0-standin";
import { startUpstreamMcp } from "../test/support/upstream-mcp";
import {
	cleanup,
	mcpOps,
	type Op,
	onCleanup,
	openSession,
	ROOT,
	type RunningWorker,
	runBenchMain,
	startWorker,
	workerVars,
} from "./harness";
import { median, round, table } from "./stats";

const arg = (name: string, fallback: number) => {
	const i = process.argv.indexOf(name);
	return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const CALLS = arg("--calls", 300);
const WARM = 30;
const REMOTE = process.argv.includes("--remote");
/** Only the Durable Object's own I/O timings, without the CPU profiler's overhead. */
const NO_CPU = process.argv.includes("--no-cpu");
const STORAGE = process.argv.includes("--disk") ? "disk" : "tmpfs";
const GATEWAY = process.argv.includes("--gateway");
/** Sessions calling at once (each in a closed loop); 1 = sequential calls on one session. */
const SESSIONS = arg("--sessions", 1);
/** Only these ops (comma-separated keys), e.g. --ops forwarded,passthrough */
const ONLY = process.argv.includes("--ops") ? process.argv[process.argv.indexOf("--ops") + 1].split(",") : undefined;
const OUT = join(ROOT, "bench/results.tmp-profile");

interface CpuProfile {
	nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
	samples: number[];
	timeDeltas: number[];
}

/** CDP over the inspector proxy's WebSocket (it wants an Origin header). */
async function inspector(url: URL) {
	const wsUrl = `${url.href.replace(/^http/, "ws").replace(/\/?$/, "")}/ws`;
	// Node's WebSocket (undici) takes headers as an extension; the types here are the Workers' ones.
	const NodeWebSocket = WebSocket as unknown as new (
		url: string,
		options: unknown,
	) => {
		addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
		send(data: string): void;
		close(): void;
	};
	const ws = new NodeWebSocket(wsUrl, { headers: { Origin: "http://127.0.0.1" } });
	await new Promise((resolve, reject) => {
		ws.addEventListener("open", resolve);
		ws.addEventListener("error", () => reject(new Error(`bench: cannot open the inspector at ${wsUrl}`)));
	});
	let id = 0;
	const pending = new Map<number, (v: { result?: unknown; error?: unknown }) => void>();
	ws.addEventListener("message", (e) => {
		const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: unknown };
		if (m.id !== undefined && pending.has(m.id)) {
			pending.get(m.id)!(m);
			pending.delete(m.id);
		}
	});
	const send = (method: string, params: Record<string, unknown> = {}) =>
		new Promise<{ result?: unknown; error?: unknown }>((resolve) => {
			const i = ++id;
			pending.set(i, resolve);
			ws.send(JSON.stringify({ id: i, method, params }));
		});
	return { send, close: () => ws.close() };
}

/** Line ranges of the bundle's modules, from esbuild's `// path` comments (the bundle is kept beside the profiles). */
function bundleModules(): (line: number) => string {
	const tmp = join(ROOT, ".wrangler/tmp");
	const bundles = readdirSync(tmp)
		.filter((d) => d.startsWith("dev-"))
		.map((d) => join(tmp, d, "worker.js"))
		.filter((f) => {
			try {
				return readFileSync(f, "utf8").includes("research-topic-unguarded");
			} catch {
				return false;
			}
		})
		.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
	if (!bundles.length) return () => "worker.js";
	const source = readFileSync(bundles[0], "utf8");
	mkdirSync(OUT, { recursive: true });
	writeFileSync(join(OUT, "worker.js"), source);
	const starts: [number, string][] = [];
	source.split("\n").forEach((text, i) => {
		const m = /^\/\/ (\S+\.(?:[cm]?js|ts))$/.exec(text);
		if (m) starts.push([i, m[1]]);
	});
	return (line: number) => {
		let lo = 0;
		let hi = starts.length - 1;
		let found = "worker.js";
		while (lo <= hi) {
			const mid = (lo + hi) >> 1;
			if (starts[mid][0] <= line) {
				found = starts[mid][1];
				lo = mid + 1;
			} else hi = mid - 1;
		}
		return found;
	};
}

function bucketOf(module: string): string {
	if (module.includes("/zod/")) return "zod";
	if (module.includes("@modelcontextprotocol/sdk")) return "MCP SDK";
	if (/\/(agents|partyserver|partysocket)\//.test(module)) return "agents framework";
	if (module.includes("/ajv")) return "ajv";
	if (module.includes("node_modules")) return "other deps";
	for (const dir of ["src/guard", "src/tools", "src/state", "src/auth", "src/agent", "src/api"]) if (module.includes(dir)) return dir;
	if (module.includes("src/")) return "src (entry, config, http)";
	if (module.includes("bench/")) return "bench build";
	return "bundle glue";
}

interface Analysis {
	busy_ms: number;
	idle_ms: number;
	buckets: Record<string, number>;
	natives: Record<string, number>;
	inclusive: Record<string, number>;
}

function analyse(profile: CpuProfile, moduleAt: (line: number) => string): Analysis {
	const byId = new Map(profile.nodes.map((n) => [n.id, n]));
	const parent = new Map<number, number>();
	for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
	const bucketOfNode = new Map<number, string>();
	const nodeBucket = (id: number) => {
		let b = bucketOfNode.get(id);
		if (b === undefined) {
			const cf = byId.get(id)!.callFrame;
			if (cf.url === "worker.js") b = bucketOf(moduleAt(cf.lineNumber));
			else if (cf.functionName === "(idle)") b = "(idle)";
			else if (cf.functionName === "(garbage collector)") b = "garbage collector";
			else if (cf.functionName === "(program)") b = "(program)";
			else b = "runtime natives";
			bucketOfNode.set(id, b);
		}
		return b;
	};
	const buckets: Record<string, number> = {};
	const natives: Record<string, number> = {};
	const inclusive: Record<string, number> = {};
	let idle = 0;
	let busy = 0;
	profile.samples.forEach((id, i) => {
		const dt = (profile.timeDeltas[i] ?? 0) / 1000;
		const b = nodeBucket(id);
		if (b === "(idle)") {
			idle += dt;
			return;
		}
		busy += dt;
		buckets[b] = (buckets[b] ?? 0) + dt;
		if (b === "runtime natives") {
			const name = byId.get(id)!.callFrame.functionName || "(anonymous)";
			natives[name] = (natives[name] ?? 0) + dt;
		}
		// Inclusive: a sample counts once for every project bucket on its stack.
		const seen = new Set<string>();
		for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
			const nb = nodeBucket(cur);
			if (nb.startsWith("src") || nb === "bench build") seen.add(nb);
			const fn = byId.get(cur)!.callFrame.functionName;
			if (fn === "guardedCall" || fn === "renderReport" || fn === "argumentsHash") seen.add(`fn ${fn}`);
		}
		for (const s of seen) inclusive[s] = (inclusive[s] ?? 0) + dt;
	});
	return { busy_ms: busy, idle_ms: idle, buckets, natives, inclusive };
}

async function profileOps(label: string, worker: RunningWorker, ops: Op[]) {
	const client: Client = await openSession(worker.url);
	const others: Client[] = await Promise.all(Array.from({ length: SESSIONS - 1 }, () => openSession(worker.url)));
	const cdp = NO_CPU ? undefined : await inspector(worker.inspectorUrl!);
	await cdp?.send("Profiler.enable");
	await cdp?.send("Profiler.setSamplingInterval", { interval: 100 });
	const moduleAt = bundleModules();
	const readTrace = async () => {
		const r = (await client.callTool({ name: "bench-trace", arguments: {} })) as { content: { text: string }[] };
		return JSON.parse(r.content[0].text) as Record<string, number[]>;
	};
	const out: Record<string, unknown>[] = [];
	for (const op of ops) {
		for (const c of [client, ...others]) for (let i = 0; i < WARM / SESSIONS + 1; i++) await op.run(c);
		await readTrace();
		await cdp?.send("Profiler.start");
		const lat: number[] = [];
		await Promise.all(
			[client, ...others].map(async (c) => {
				for (let i = 0; i < CALLS / SESSIONS; i++) {
					const s = performance.now();
					await op.run(c);
					lat.push(performance.now() - s);
				}
			}),
		);
		const stopped = (await cdp?.send("Profiler.stop")) as { result?: { profile: CpuProfile } } | undefined;
		const trace = await readTrace();
		const profile = stopped?.result?.profile ?? { nodes: [], samples: [], timeDeltas: [] };
		mkdirSync(OUT, { recursive: true });
		if (stopped) writeFileSync(join(OUT, `${label}-${op.key}.cpuprofile`), JSON.stringify(profile));
		const a = analyse(profile, moduleAt);
		const perCall = (x: number) => round(x / CALLS, 3);
		out.push({
			mode: label,
			op: op.key,
			calls: CALLS,
			client_p50_ms: round(median(lat)),
			isolate_cpu_ms_per_call: perCall(a.busy_ms),
			cpu_ms_per_call_by_bucket: Object.fromEntries(
				Object.entries(a.buckets)
					.sort((x, y) => y[1] - x[1])
					.map(([k, v]) => [k, perCall(v)]),
			),
			cpu_ms_per_call_inclusive: Object.fromEntries(Object.entries(a.inclusive).map(([k, v]) => [k, perCall(v)])),
			top_natives_ms_per_call: Object.fromEntries(
				Object.entries(a.natives)
					.sort((x, y) => y[1] - x[1])
					.slice(0, 8)
					.map(([k, v]) => [k, perCall(v)]),
			),
			// I/O waits inside the Durable Object, as the DO's clock sees them.
			io_in_do: Object.fromEntries(
				Object.entries(trace)
					.filter(([k]) => k !== "handler bench-trace")
					.map(([k, v]) => [
						k,
						{
							per_call: round(v.length / CALLS, 2),
							p50_ms: round(median(v)),
							mean_ms: round(v.reduce((x, y) => x + y, 0) / v.length),
						},
					]),
			),
		});
		console.log(`  ${label} ${op.key}: done`);
	}
	cdp?.close();
	await Promise.all([client, ...others].map((c) => c.close()));
	return out;
}

async function main() {
	console.log(
		`profile: ${CALLS} sequential calls per op, one session${NO_CPU ? ", no CPU profiler" : ", CPU sampled every 100 us"}, storage on ${STORAGE}`,
	);
	const results: Record<string, unknown>[] = [];
	const upstream = GATEWAY ? await startUpstreamMcp() : undefined;
	if (upstream) onCleanup("upstream", () => upstream.close());
	const sim = await startWorker(
		"simulated worker",
		{ ...workerVars(), BENCH_TRACE: "1", ...(upstream ? { UPSTREAM_MCP_URL: upstream.url } : {}) },
		"simulated",
		{ inspector: !NO_CPU, storage: STORAGE },
	);
	const simOps = mcpOps(sim.url, "simulated").filter((o) => o.key !== "health");
	if (upstream) {
		simOps.push({
			key: "forwarded",
			label: "upstream.search, forwarded (ALLOW)",
			run: async (c) => {
				const r = (await c.callTool({ name: "upstream.search", arguments: { query: "invoices" } })) as { isError?: boolean };
				if (r.isError) throw new Error(`bench: upstream.search failed: ${JSON.stringify(r).slice(0, 400)}`);
			},
		});
		simOps.push({
			key: "passthrough",
			label: "upstream-unguarded.search, forwarded without the guard (baseline)",
			run: async (c) => {
				const r = (await c.callTool({ name: "upstream-unguarded.search", arguments: { query: "invoices" } })) as { isError?: boolean };
				if (r.isError) throw new Error(`bench: the unguarded forward failed: ${JSON.stringify(r).slice(0, 400)}`);
			},
		});
	}
	results.push(
		...(await profileOps(
			"simulated",
			sim,
			simOps.filter((o) => !ONLY || ONLY.includes(o.key)),
		)),
	);
	await sim.close();
	if (REMOTE) {
		const standin = await startStage0StandIn({ apiKey: "bench-standin-key" });
		onCleanup("stage0 stand-in", () => standin.close());
		const remote = await startWorker("stage0 worker", { ...workerVars(standin), BENCH_TRACE: "1" }, "stage0", {
			inspector: !NO_CPU,
			storage: STORAGE,
		});
		const ops = mcpOps(remote.url, "stage0").filter((o) => ["ping", "unguarded", "guarded"].includes(o.key));
		results.push(...(await profileOps("stage0", remote, ops)));
	}
	await cleanup();

	mkdirSync(OUT, { recursive: true });
	writeFileSync(join(OUT, "summary.json"), `${JSON.stringify(results, null, 2)}\n`);
	const buckets = [...new Set(results.flatMap((r) => Object.keys(r.cpu_ms_per_call_by_bucket as object)))];
	const rows: (string | number)[][] = [["mode", "op", "client p50 ms", "isolate CPU ms/call", ...buckets]];
	for (const r of results) {
		const b = r.cpu_ms_per_call_by_bucket as Record<string, number>;
		rows.push([
			String(r.mode),
			String(r.op),
			r.client_p50_ms as number,
			r.isolate_cpu_ms_per_call as number,
			...buckets.map((k) => b[k] ?? 0),
		]);
	}
	console.log(`\nIsolate CPU per call, by module (ms)\n\n${table(rows)}`);
	for (const r of results) {
		console.log(`\n${String(r.mode)} ${String(r.op)}`);
		console.log(`  inclusive CPU ms/call: ${JSON.stringify(r.cpu_ms_per_call_inclusive)}`);
		console.log(`  top natives ms/call:   ${JSON.stringify(r.top_natives_ms_per_call)}`);
		console.log(`  I/O in the DO:         ${JSON.stringify(r.io_in_do)}`);
	}
	console.log(`\nwrote ${OUT.slice(ROOT.length)}/ (summary.json and one .cpuprofile per op; open them in Chrome DevTools)`);
}

await runBenchMain(main, 10 * 60_000);
