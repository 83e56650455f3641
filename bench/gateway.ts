/**
 * The gateway's part of `npm run bench` (alone: `npm run bench:gateway`).
 *
 * A forwarded, guarded call (`upstream.search` through the Worker) against the
 * same call made directly to the upstream with the SDK client, next to the
 * guard's own overhead on a built-in tool (research-topic against the bench
 * build's unguarded copy, as in bench/run.ts), in simulated and Stage0 mode
 * (the loopback stand-in), with 1 and 32 sessions; and how many upstream
 * connections a run of 1,000 forwarded calls opened.
 *
 * Two more baselines split "forwarded - direct" into its parts: an MCP ping
 * to the Worker (the hop every call to the guard pays, no tool at all) and
 * the bench build's `upstream-unguarded.search` (the same forward from the
 * same Durable Object, without the guard). So:
 *   forwarded - direct = (ping) + (unguarded forward - ping - direct) + (forwarded - unguarded forward)
 *                        the hop   the forward leg from workerd            the guard on a forwarded call
 * and the target compares the last part with the guard's overhead on
 * a built-in tool (+ 1 ms). The upstream is the
 * SDK's own McpServer (test/support/upstream-mcp.ts) in a process of its own
 * on 127.0.0.1. Writes bench/gateway-results.json and the gateway block of
 * BENCHMARKS.md.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ToolResult } from "../test/support/results";
import { startStage0StandIn } from "../test/support/stage0-standin";
import { closeSessions, onCleanup, openSessions, ROOT, runBenchMain, startWorker, TOPIC, UNGUARDED_TOOL, workerVars } from "./harness";
import { type LatencyStats, markdownTable, median, round, summarize } from "./stats";

const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 40 : 300;
const WARM = QUICK ? 10 : 50;
const CONCURRENT_SESSIONS = 32;
const CONCURRENT_CALLS = QUICK ? 320 : 1000;
const CONNECTION_RUN = 1000;
const QUERY = { query: "invoices" };
const LOAD0 = os.loadavg();

type Call = (client: Client) => Promise<void>;

function check(op: string, result: unknown, want: (r: ToolResult) => boolean): void {
	if (!want(result as ToolResult)) throw new Error(`bench: ${op} did not answer as expected: ${JSON.stringify(result).slice(0, 900)}`);
}

const OPS: Record<string, { label: string; guard: boolean; run: Call }> = {
	direct: {
		label: "search, directly to the upstream",
		guard: false,
		run: async (c) =>
			check("direct", await c.callTool({ name: "search", arguments: QUERY }), (r) => r.content?.[0]?.text?.startsWith("found")),
	},
	forwarded: {
		label: "upstream.search, through the guard (ALLOW, forwarded)",
		guard: true,
		run: async (c) =>
			check(
				"forwarded",
				await c.callTool({ name: "upstream.search", arguments: QUERY }),
				(r) => r._meta?.guard?.verdict === "ALLOW" && r.content?.[0]?.text?.startsWith("found"),
			),
	},
	passthrough: {
		label: "upstream-unguarded.search, the same forward without the guard (baseline)",
		guard: true,
		run: async (c) =>
			check(
				"passthrough",
				await c.callTool({ name: "upstream-unguarded.search", arguments: QUERY }),
				(r) => r._meta?.guard === undefined && r.content?.[0]?.text?.startsWith("found"),
			),
	},
	ping: {
		label: "MCP ping to the guard (the hop, no tool)",
		guard: true,
		run: async (c) => void (await c.ping()),
	},
	guarded: {
		label: "research-topic, guarded (built-in)",
		guard: true,
		run: async (c) =>
			check("guarded", await c.callTool({ name: "research-topic", arguments: TOPIC }), (r) => r.structuredContent?.executed === true),
	},
	unguarded: {
		label: "research-topic-unguarded (baseline)",
		guard: true,
		run: async (c) =>
			check("unguarded", await c.callTool({ name: UNGUARDED_TOOL, arguments: TOPIC }), (r) => r.structuredContent?.executed === true),
	},
};

async function startUpstream(): Promise<{ url: string; stats(): Promise<{ sessions: number; calls: Record<string, number> }> }> {
	const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/gateway-upstream.ts")], {
		cwd: ROOT,
		stdio: ["ignore", "pipe", "inherit"],
	});
	onCleanup("bench upstream", async () => void (child.exitCode === null && child.kill("SIGTERM")));
	const url = await new Promise<string>((resolve, reject) => {
		let out = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			out += d;
			const line = out.split("\n").find((l) => l.startsWith("{"));
			if (line) resolve(JSON.parse(line).url);
		});
		child.once("exit", (code) => reject(new Error(`bench: the upstream exited with ${code}`)));
	});
	const stats = async () => (await (await fetch(new URL("/_stats", url))).json()) as { sessions: number; calls: Record<string, number> };
	return { url, stats };
}

async function directClient(url: string): Promise<Client> {
	const client = new Client({ name: "edge-guard-bench-direct", version: "1.0.0" });
	await client.connect(new StreamableHTTPClientTransport(new URL(url)));
	await client.listTools();
	return client;
}

interface ModeResult {
	mode: "simulated" | "stage0";
	single: Record<string, LatencyStats>;
	paired_ms: {
		forwarded_minus_direct: number;
		/** The hop: an MCP message to the Worker and its Durable Object, with no tool. */
		hop: number;
		/** The forward from workerd (SDK client, transport, size limit) beyond the same call made directly from Node. */
		forward_leg_minus_direct: number;
		/** The guard's cost on a forwarded call: forwarded - the same forward without the guard. */
		guard_on_forward: number;
		/** The guard's cost on a built-in tool: guarded - unguarded. */
		guard_on_builtin: number;
		/** guard_on_forward - guard_on_builtin: the target is <= 1 ms. */
		gateway_extra: number;
	};
	concurrent: Record<string, LatencyStats & { calls_per_s: number }>;
	connections: { one_session_1000_calls: number; sessions_32_1000_calls: number };
}

async function benchMode(mode: "simulated" | "stage0", upstream: Awaited<ReturnType<typeof startUpstream>>): Promise<ModeResult> {
	const standin = mode === "stage0" ? await startStage0StandIn({ apiKey: "bench-gateway-standin-key" }) : undefined;
	if (standin) onCleanup("stand-in", () => standin.close());
	const vars = {
		...workerVars(standin ? { apiKey: standin.apiKey, url: standin.url } : undefined),
		// The stand-in shares the bench's event loop with 64 clients: on a loaded machine it can be late; a latency bench must not fail closed.
		STAGE0_TIMEOUT_MS: "30000",
		UPSTREAM_MCP_URL: upstream.url,
		GUARD_MODE: "enforce",
	};
	const worker = await startWorker(`gateway worker (${mode})`, vars, mode);
	try {
		// One session: interleaved rounds, every op once per round.
		const [guard] = await openSessions(worker.url, 1);
		const direct = await directClient(upstream.url);
		const client = (op: string) => (OPS[op].guard ? guard : direct);
		const keys = Object.keys(OPS);
		for (let r = 0; r < WARM; r++) for (const k of keys) await OPS[k].run(client(k));
		const samples: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
		for (let r = 0; r < ROUNDS; r++) {
			for (let j = 0; j < keys.length; j++) {
				const k = keys[(j + r) % keys.length];
				const t = performance.now();
				await OPS[k].run(client(k));
				samples[k].push(performance.now() - t);
			}
		}
		const paired = (a: string, b: string) => median(samples[a].map((x, i) => x - samples[b][i]));
		const fwd = paired("forwarded", "direct");
		const own = paired("guarded", "unguarded");
		const onForward = paired("forwarded", "passthrough");
		const hop = median(samples.ping);
		const leg = median(samples.passthrough.map((x, i) => x - samples.ping[i] - samples.direct[i]));

		// Connections opened by a new session and its 1,000 forwarded calls (10 in flight at a time).
		const before1 = (await upstream.stats()).sessions;
		const [fresh] = await openSessions(worker.url, 1);
		let next = 0;
		await Promise.all(
			Array.from({ length: 10 }, async () => {
				while (next++ < CONNECTION_RUN) await OPS.forwarded.run(fresh);
			}),
		);
		const one = (await upstream.stats()).sessions - before1;
		await closeSessions([fresh, guard]);
		await direct.close();

		// 32 sessions at once, each in a closed loop; forwarded and direct batches alternate.
		const before32 = (await upstream.stats()).sessions;
		const guards = await openSessions(worker.url, CONCURRENT_SESSIONS);
		const directs = await Promise.all(guards.map(() => directClient(upstream.url)));
		const concurrent: ModeResult["concurrent"] = {};
		const perSession = Math.ceil(CONCURRENT_CALLS / CONCURRENT_SESSIONS);
		const batch = async (op: string, clients: Client[]) => {
			const lat: number[] = [];
			const t0 = performance.now();
			await Promise.all(
				clients.map(async (c) => {
					for (let i = 0; i < perSession; i++) {
						const t = performance.now();
						await OPS[op].run(c);
						lat.push(performance.now() - t);
					}
				}),
			);
			return { lat, wall: performance.now() - t0 };
		};
		await batch("forwarded", guards);
		await batch("direct", directs);
		// The unguarded forward through the same Worker: what 32 sessions get from the hop alone.
		const acc: Record<string, { lat: number[]; wall: number }> = {
			forwarded: { lat: [], wall: 0 },
			passthrough: { lat: [], wall: 0 },
			direct: { lat: [], wall: 0 },
		};
		for (const op of ["forwarded", "passthrough", "direct", "direct", "passthrough", "forwarded"]) {
			const b = await batch(op, op === "direct" ? directs : guards);
			acc[op].lat.push(...b.lat);
			acc[op].wall += b.wall;
		}
		for (const [op, a] of Object.entries(acc))
			concurrent[op] = { ...summarize(a.lat), calls_per_s: round((a.lat.length / a.wall) * 1000, 1) };
		// Sessions the guard opened upstream during the 32-session run: the direct clients' own sessions and
		// the unguarded baseline's (one per session object, opened at its first call) are excluded.
		const thirtyTwo = (await upstream.stats()).sessions - before32 - 2 * CONCURRENT_SESSIONS;
		await closeSessions([...guards, ...directs]);

		const result: ModeResult = {
			mode,
			single: Object.fromEntries(keys.map((k) => [k, summarize(samples[k])])),
			paired_ms: {
				forwarded_minus_direct: round(fwd),
				hop: round(hop),
				forward_leg_minus_direct: round(leg),
				guard_on_forward: round(onForward),
				guard_on_builtin: round(own),
				gateway_extra: round(onForward - own),
			},
			concurrent,
			connections: { one_session_1000_calls: one, sessions_32_1000_calls: thirtyTwo },
		};
		console.log(
			`  ${mode}: forwarded - direct ${round(fwd)} ms (hop ${round(hop)}, forward leg beyond direct ${round(leg)}, guard on the forward ${round(onForward)}); guard on a built-in ${round(own)} ms (paired p50); connections: ${one} for 1,000 calls on one session, ${thirtyTwo} for 32 sessions`,
		);
		return result;
	} finally {
		await worker.close();
		await standin?.close();
	}
}

function block(results: ModeResult[]): string {
	const rows: (string | number)[][] = [["mode", "op", "p50 ms", "p95 ms", "p99 ms"]];
	for (const r of results) for (const [k, s] of Object.entries(r.single)) rows.push([r.mode, OPS[k].label, s.p50_ms, s.p95_ms, s.p99_ms]);
	const paired: (string | number)[][] = [
		[
			"mode",
			"forwarded - direct",
			"= the hop (ping)",
			"+ forward leg beyond direct",
			"+ guard on the forward",
			"guard on a built-in tool",
			"guard on the forward - on a built-in (target <= 1 ms)",
		],
	];
	for (const r of results) {
		const p = r.paired_ms;
		paired.push([
			r.mode,
			p.forwarded_minus_direct,
			p.hop,
			p.forward_leg_minus_direct,
			p.guard_on_forward,
			p.guard_on_builtin,
			p.gateway_extra,
		]);
	}
	const conc: (string | number)[][] = [["mode", "op", "calls/s", "p50 ms", "p95 ms"]];
	for (const r of results)
		for (const [k, s] of Object.entries(r.concurrent)) conc.push([r.mode, OPS[k].label, s.calls_per_s, s.p50_ms, s.p95_ms]);
	const conns: (string | number)[][] = [
		["mode", "a new session and its 1,000 calls", `${CONCURRENT_CALLS} calls over ${CONCURRENT_SESSIONS} new sessions`],
	];
	for (const r of results) conns.push([r.mode, r.connections.one_session_1000_calls, r.connections.sessions_32_1000_calls]);
	return [
		`Generated by \`npm run bench:gateway\` on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (${ROUNDS} interleaved rounds on one session), load average at start ${LOAD0.map((x) => x.toFixed(2)).join(" ")} on ${os.cpus().length} cores. Raw figures: \`bench/gateway-results.json\`.`,
		"",
		"One session, p50 of each call:",
		"",
		markdownTable(rows),
		"",
		"Paired medians over the same rounds (ms). The three parts are medians of their own, so they add up to forwarded - direct only roughly:",
		"",
		markdownTable(paired),
		"",
		`${CONCURRENT_SESSIONS} sessions at once:`,
		"",
		markdownTable(conc),
		"",
		"Upstream connections (MCP sessions) the guard opened:",
		"",
		markdownTable(conns),
	].join("\n");
}

async function main(): Promise<void> {
	const upstream = await startUpstream();
	const results = [await benchMode("simulated", upstream), await benchMode("stage0", upstream)];
	const raw = { generated_at: new Date().toISOString(), rounds: ROUNDS, load_average_at_start: LOAD0, cores: os.cpus().length, results };
	writeFileSync(join(ROOT, QUICK ? "bench/gateway-results.tmp.json" : "bench/gateway-results.json"), `${JSON.stringify(raw, null, 2)}\n`);
	const text = block(results);
	console.log(`\n${text}`);
	if (!QUICK) {
		const path = join(ROOT, "BENCHMARKS.md");
		const md = readFileSync(path, "utf8");
		const begin = "<!-- bench-gateway:begin (generated by npm run bench:gateway; edits inside are overwritten) -->";
		const end = "<!-- bench-gateway:end -->";
		const start = md.indexOf(begin);
		const next =
			start >= 0
				? `${md.slice(0, start + begin.length)}\n${text}\n${md.slice(md.indexOf(end))}`
				: `${md.trimEnd()}\n\n## Gateway mode\n\n${begin}\n${text}\n${end}\n`;
		writeFileSync(path, next);
	}
}

if (import.meta.url === `file://${process.argv[1]}`) await runBenchMain(main, 15 * 60_000);
