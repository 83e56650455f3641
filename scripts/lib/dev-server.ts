/**
 * Starts the Worker with `wrangler dev` on loopback, for demos, end-to-end
 * tests and benchmarks, and stops it again (its whole process group, so no
 * workerd is left behind).
 *
 * The Worker gets wrangler.toml's vars and the `vars` given here, nothing else:
 * a developer's .dev.vars, .env or shell (their tokens, their Stage0 key) never
 * reach it. `--env-file` names an empty file, so wrangler reads neither
 * .dev.vars nor .env (for the Worker or for itself), and the two
 * CLOUDFLARE_* switches keep it from loading that file or process.env as secrets.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "node_modules/.bin");
const STOP_GRACE_MS = 5000;

export interface DevServer {
	/** e.g. http://127.0.0.1:8787 */
	origin: string;
	port: number;
	pid: number | undefined;
	/** Everything wrangler printed so far. */
	output(): string;
	stop(): Promise<void>;
	/** Last resort, synchronous (for process "exit"). */
	killNow(): void;
}

export interface DevServerOptions {
	port?: number;
	/** Worker vars and secrets, passed as --var (never printed). */
	vars?: Record<string, string>;
	/** Another wrangler config, e.g. a bench build. */
	config?: string;
	readyTimeoutMs?: number;
}

export function freePort(): Promise<number> {
	return new Promise((resolvePort, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolvePort(port));
		});
	});
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
	const wrangler = join(BIN, "wrangler");
	if (!existsSync(wrangler)) throw new Error(`${wrangler} is missing: run \`npm install\` first.`);
	const port = options.port ?? (await freePort());
	const inspectorPort = await freePort();
	// A fresh state directory: every start begins with empty Durable Objects.
	const persist = mkdtempSync(join(tmpdir(), "edge-guard-dev-"));
	const noEnvFile = join(persist, "empty.env");
	writeFileSync(noEnvFile, "");
	const args = [
		"dev",
		"--ip",
		"127.0.0.1",
		"--port",
		String(port),
		"--inspector-port",
		String(inspectorPort),
		"--persist-to",
		persist,
		"--env-file",
		noEnvFile,
		"--show-interactive-dev-session=false",
		"--log-level",
		"log",
	];
	if (options.config) args.push("--config", options.config);
	for (const [k, v] of Object.entries(options.vars ?? {})) args.push("--var", `${k}:${v}`);

	const child: ChildProcess = spawn(wrangler, args, {
		cwd: ROOT,
		detached: true, // its own process group, so stop() ends workerd too
		stdio: ["ignore", "pipe", "pipe"],
		// The project's bin first (as under `npm run`), so wrangler runs on the project's Node 24.
		env: {
			...process.env,
			PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}`,
			WRANGLER_SEND_METRICS: "false",
			NO_COLOR: "1",
			CI: "true",
			CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
			CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
		},
	});
	let log = "";
	child.stdout?.on("data", (d) => (log += d));
	child.stderr?.on("data", (d) => (log += d));
	let exited = false;
	const exit = new Promise<void>((done) => {
		child.once("exit", () => ((exited = true), done()));
		child.once("error", (error) => ((log += `spawn error: ${error.message}\n`), (exited = true), done()));
	});
	const origin = `http://127.0.0.1:${port}`;

	const signalGroup = (signal: NodeJS.Signals) => {
		try {
			if (child.pid) process.kill(-child.pid, signal);
		} catch {} // ESRCH: already gone
	};
	const groupExists = () => {
		try {
			if (child.pid) process.kill(-child.pid, 0);
			return child.pid !== undefined;
		} catch {
			return false;
		}
	};
	let stopped = false;
	const stop = async () => {
		if (stopped) return;
		stopped = true;
		signalGroup("SIGTERM");
		const timer = setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS);
		await exit;
		clearTimeout(timer);
		signalGroup("SIGKILL");
		const deadline = Date.now() + STOP_GRACE_MS;
		while (groupExists() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		rmSync(persist, { recursive: true, force: true });
	};
	const server: DevServer = { origin, port, pid: child.pid, output: () => log, stop, killNow: () => signalGroup("SIGKILL") };

	// Generous: the bundle carries cedar-wasm's 4 MB module, and a loaded machine starts it slowly.
	const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
	while (Date.now() < deadline && !exited) {
		try {
			const res = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(1000) });
			if (res.ok) return server;
		} catch {}
		await new Promise((r) => setTimeout(r, 250));
	}
	// Said before stop(), which ends the process itself.
	const why = exited ? "wrangler dev exited before it was ready" : `wrangler dev did not become ready on ${origin} in time`;
	await stop();
	throw new Error(`${why}. Its last output:\n${tail(redact(log, options.vars))}`);
}

function tail(text: string, lines = 40): string {
	const last = text.split(/\r?\n/).filter((l) => l.trim()).slice(-lines);
	return last.length ? last.map((l) => `    | ${l}`).join("\n") : "    (no output)";
}

function redact(text: string, vars: Record<string, string> = {}): string {
	let out = text;
	for (const v of Object.values(vars)) if (v.length >= 8) out = out.split(v).join("[redacted]");
	return out;
}
