/**
 * What bench/run.ts and bench/profile.ts share: the Worker on 127.0.0.1 via
 * wrangler's unstable_startWorker, MCP sessions, the ops they time, and a
 * clean-up that stops every server this process started, also on failure,
 * Ctrl-C or a time limit.
 */
import { VARIABLES, type VariableSpec } from "../src/variables.ts";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { round } from "./stats";

// Loopback only: miniflare must not download the Request.cf object, and
// wrangler must not send metrics or error reports. Set before wrangler loads.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";
process.env.WRANGLER_SEND_ERROR_REPORTS = "false";

export const ROOT = fileURLToPath(new URL("..", import.meta.url).href);
export const TOPIC = { topic: "edge computing" };
export const PUBLISH = { content: "Release notes for version 2.4", channel: "blog" };
export const UNGUARDED_TOOL = "research-topic-unguarded";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- clean-up

type Closer = { label: string; close: () => Promise<void> };
const closers: Closer[] = [];
let cleaning: Promise<void> | undefined;

export function onCleanup(label: string, close: () => Promise<void>): () => Promise<void> {
	const closer = { label, close };
	closers.push(closer);
	// Closing early is allowed; it also takes the closer off the list.
	return async () => {
		const i = closers.indexOf(closer);
		if (i >= 0) {
			closers.splice(i, 1);
			await close();
		}
	};
}

export function cleanup(): Promise<void> {
	cleaning ??= (async () => {
		for (const c of closers.splice(0).reverse()) {
			await Promise.race([c.close(), sleep(15_000)]).catch((e) => console.error(`bench: closing ${c.label}: ${e}`));
		}
		// Whatever this process started and is still running (a workerd that did
		// not stop, wrangler's esbuild service) ends here, by pid.
		for (const pid of descendants(process.pid)) {
			const name = procStat(pid)?.comm ?? "?";
			try {
				process.kill(pid, "SIGTERM");
				if (name !== "esbuild") console.error(`bench: stopped leftover process ${pid} (${name})`);
			} catch {}
		}
	})();
	return cleaning;
}

/** Ctrl-C, SIGTERM and a time limit all stop every server before exiting. */
export function guardProcess(timeLimitMs: number): () => void {
	const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
		const handler = () => {
			console.error(`bench: ${signal}, shutting down`);
			void cleanup().finally(() => process.exit(130));
		};
		process.once(signal, handler);
		return [signal, handler] as const;
	});
	const watchdog = setTimeout(() => {
		console.error(`bench: over the ${Math.round(timeLimitMs / 60_000)} min limit, shutting down`);
		void cleanup().finally(() => process.exit(3));
	}, timeLimitMs);
	watchdog.unref();
	return () => {
		clearTimeout(watchdog);
		for (const [signal, handler] of handlers) process.off(signal, handler);
	};
}

/**
 * Runs a bench entry point: with the signal and time-limit guard, reporting a
 * failure as exit code 1, and always stopping every server it started. Exits
 * at once afterwards (nothing of ours is left; idle keep-alive sockets need
 * not be waited for).
 */
export async function runBenchMain(main: () => Promise<void>, timeLimitMs: number): Promise<never> {
	const release = guardProcess(timeLimitMs);
	try {
		await main();
	} catch (error) {
		console.error(error instanceof Error ? (error.stack ?? error.message) : error);
		process.exitCode = 1;
	} finally {
		await cleanup();
		release();
	}
	process.exit(process.exitCode ?? 0);
}

// ---------------------------------------------------------------- processes

export function procStat(pid: number): { ppid: number; comm: string; ticks: number } | undefined {
	try {
		const text = readFileSync(`/proc/${pid}/stat`, "utf8");
		const close = text.lastIndexOf(")");
		const comm = text.slice(text.indexOf("(") + 1, close);
		const fields = text.slice(close + 2).split(" ");
		// After "pid (comm) ": state, ppid, ... utime is stat field 14 and stime 15.
		return { ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) };
	} catch {
		return undefined;
	}
}

/** Every live process below `root`. */
export function descendants(root: number): number[] {
	const children = new Map<number, number[]>();
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		const stat = procStat(Number(name));
		if (!stat) continue;
		const list = children.get(stat.ppid) ?? [];
		list.push(Number(name));
		children.set(stat.ppid, list);
	}
	const out: number[] = [];
	const queue = [...(children.get(root) ?? [])];
	while (queue.length) {
		const pid = queue.shift()!;
		out.push(pid);
		queue.push(...(children.get(pid) ?? []));
	}
	return out;
}

const CLOCK_TICKS = 100;

/** CPU seconds used so far by this process and by the workerd runtimes it started. */
export function cpuNow(): { node_s: number; workerd_s: number } {
	const u = process.cpuUsage();
	let ticks = 0;
	for (const pid of descendants(process.pid)) {
		const stat = procStat(pid);
		if (stat?.comm.startsWith("workerd")) ticks += stat.ticks;
	}
	return { node_s: (u.user + u.system) / 1e6, workerd_s: ticks / CLOCK_TICKS };
}

// ---------------------------------------------------------------- the Worker

export interface RunningWorker {
	url: URL;
	inspectorUrl?: URL;
	startup_ms: number;
	health: Record<string, unknown>;
	close: () => Promise<void>;
}

/**
 * Bindings that make the mode explicit whatever a developer's local files say: every variable of
 * the Worker at its default (src/variables.ts, the one table), then what the bench changes.
 */
export function workerVars(stage0?: { apiKey: string; url: string }): Record<string, string> {
	const defaults = Object.fromEntries(Object.entries(VARIABLES).map(([name, spec]: [string, VariableSpec]) => [name, spec.default ?? ""]));
	return {
		...defaults,
		STAGE0_API_KEY: stage0?.apiKey ?? "",
		// Never the real Stage0: the stand-in, or a closed loopback port that simulated mode never uses.
		STAGE0_BASE_URL: stage0?.url ?? "http://127.0.0.1:9",
		// All bench sessions are one principal ("local"). The product's default of
		// 120 calls a minute would stop the bench after two seconds; the limiter
		// itself still runs on every call, as in production.
		RATE_LIMIT_PER_MINUTE: "1000000000",
		// Up to 128 concurrent sessions of that one principal.
		MAX_SESSIONS_PER_PRINCIPAL: "100000",
		// Bound to 127.0.0.1 (checked below): the attestation the launcher gives for loopback-only mode.
		DEV_LOOPBACK_BIND: "127.0.0.1",
	};
}

/**
 * Where the Durable Objects' SQLite files live. By default in memory (tmpfs,
 * /dev/shm), so that this VM's virtual disk (fsync on every write) does not
 * stand in for Cloudflare's storage; "disk" puts them under the system temp
 * directory, as `wrangler dev` does under .wrangler/state.
 */
export type Storage = "tmpfs" | "disk";

export function storageBase(storage: Storage): string {
	return storage === "tmpfs" && existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
}

export async function startWorker(
	label: string,
	vars: Record<string, string>,
	expectMode: string,
	options: { inspector?: boolean; storage?: Storage } = {},
): Promise<RunningWorker> {
	const { unstable_startWorker } = await import("wrangler");
	const dir = mkdtempSync(join(storageBase(options.storage ?? "tmpfs"), "edge-guard-bench-"));
	const emptyEnv = join(dir, "empty.env");
	writeFileSync(emptyEnv, "");
	const started = performance.now();
	let worker: Awaited<ReturnType<typeof unstable_startWorker>> | undefined;
	const close = onCleanup(label, async () => {
		await worker?.dispose();
		rmSync(dir, { recursive: true, force: true });
	});
	worker = await unstable_startWorker({
		// The product's own configuration; only the entry point is the bench build.
		config: join(ROOT, "wrangler.jsonc"),
		entrypoint: join(ROOT, "bench/worker.ts"),
		// An empty env file instead of a developer's .dev.vars (which may hold a real key).
		envFiles: [emptyEnv],
		bindings: Object.fromEntries(Object.entries(vars).map(([k, value]) => [k, { type: "plain_text", value }])),
		dev: {
			server: { hostname: "127.0.0.1", port: 0 },
			inspector: options.inspector ? { hostname: "127.0.0.1", port: 0 } : false,
			watch: false,
			persist: join(dir, "state"),
			// BENCH_WRANGLER_LOG=log shows wrangler's and the Worker's own output when debugging.
			logLevel: process.env.BENCH_WRANGLER_LOG ?? "warn",
		},
	} as Parameters<typeof unstable_startWorker>[0]);
	await worker.ready;
	const url = await worker.url;
	if (url.hostname !== "127.0.0.1") throw new Error(`bench: ${label} listens on ${url.hostname}, not 127.0.0.1`);
	const health = (await (await fetch(new URL("/health", url))).json()) as Record<string, unknown>;
	if (health.mode !== expectMode) throw new Error(`bench: ${label} is in mode ${String(health.mode)}, expected ${expectMode}`);
	const inspectorUrl = options.inspector ? await worker.inspectorUrl : undefined;
	return { url, inspectorUrl, startup_ms: round(performance.now() - started, 0), health, close };
}

// ---------------------------------------------------------------- MCP sessions

export async function openSession(url: URL): Promise<Client> {
	const client = new Client({ name: "edge-guard-bench", version: "1.0.0" });
	await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", url)));
	// As a real client does; it also makes the client validate structuredContent
	// against each tool's output schema, for the guarded and unguarded tool alike.
	const { tools } = await client.listTools();
	if (!tools.some((t) => t.name === UNGUARDED_TOOL)) throw new Error("bench: the bench build's baseline tool is missing");
	return client;
}

export async function openSessions(url: URL, n: number): Promise<Client[]> {
	const out: Client[] = [];
	for (let i = 0; i < n; i += 16) {
		out.push(...(await Promise.all(Array.from({ length: Math.min(16, n - i) }, () => openSession(url)))));
	}
	return out;
}

export async function closeSessions(clients: Client[]): Promise<void> {
	await Promise.all(clients.map((c) => c.close().catch(() => {})));
}

// ---------------------------------------------------------------- ops

type Want = { verdict: string; executed: boolean; source?: string };

function expectResult(op: string, result: unknown, want: Want): void {
	const sc = (result as { structuredContent?: Record<string, unknown> }).structuredContent;
	if (
		!sc ||
		sc.verdict !== want.verdict ||
		sc.executed !== want.executed ||
		(want.source !== undefined && sc.source !== want.source) ||
		sc.source === "fault"
	) {
		throw new Error(`bench: ${op} did not answer as expected (${JSON.stringify(want)}): ${JSON.stringify(sc ?? result).slice(0, 400)}`);
	}
}

export interface Op {
	key: string;
	label: string;
	run(client: Client): Promise<void>;
}

let workflowCounter = 0;

/**
 * The timed operations. Every tool result is checked (verdict, executed,
 * source), so a misconfigured run fails instead of timing errors.
 */
export function mcpOps(url: URL, source: "simulated" | "stage0", standin?: { url: string; apiKey: string; body: () => string }): Op[] {
	const ops: Op[] = [
		{ key: "ping", label: "MCP ping (transport + DO, no tool)", run: async (c) => void (await c.ping()) },
		{
			key: "unguarded",
			label: "research-topic-unguarded (baseline)",
			run: async (c) =>
				expectResult("unguarded", await c.callTool({ name: UNGUARDED_TOOL, arguments: TOPIC }), { verdict: "ALLOW", executed: true }),
		},
		{
			key: "guarded",
			label: `research-topic, guarded (${source})`,
			run: async (c) =>
				expectResult("research-topic", await c.callTool({ name: "research-topic", arguments: TOPIC }), {
					verdict: "ALLOW",
					executed: true,
					source,
				}),
		},
		{
			key: "retry",
			label: "retry-workflow (counter write)",
			run: async (c) =>
				expectResult(
					"retry-workflow",
					await c.callTool({ name: "retry-workflow", arguments: { workflowId: `bench-wf-${workflowCounter++}` } }),
					{
						verdict: "ALLOW",
						executed: true,
						source,
					},
				),
		},
		{
			key: "deny",
			label: "publish-content (DENY path)",
			run: async (c) =>
				expectResult("publish-content", await c.callTool({ name: "publish-content", arguments: PUBLISH }), {
					verdict: "DENY",
					executed: false,
				}),
		},
	];
	if (source === "simulated") {
		ops.push({
			key: "health",
			label: "GET /health (HTTP floor: Worker, no MCP, no DO)",
			run: async () => {
				const res = await fetch(new URL("/health", url));
				if (!res.ok) throw new Error(`bench: /health answered ${res.status}`);
				await res.json();
			},
		});
	}
	if (standin) {
		ops.push({
			key: "standin",
			label: "stand-in alone: POST /check round trip",
			run: async () => {
				const res = await fetch(`${standin.url}/check`, {
					method: "POST",
					headers: { "content-type": "application/json", "x-api-key": standin.apiKey },
					body: standin.body(),
				});
				const answer = (await res.json()) as { verdict?: string };
				if (!res.ok || answer.verdict !== "ALLOW") throw new Error(`bench: the stand-in answered ${res.status} ${JSON.stringify(answer)}`);
			},
		});
	}
	return ops;
}

export function versionOf(pkg: string): string {
	try {
		return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
	} catch {
		return "unknown";
	}
}
