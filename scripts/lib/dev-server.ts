/**
 * Starts the Worker with `wrangler dev` on loopback, for demos, end-to-end
 * tests and benchmarks, and stops it again (the whole process group).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

export interface DevServer {
	/** e.g. http://127.0.0.1:8787 */
	origin: string;
	port: number;
	/** Everything wrangler printed so far. */
	output(): string;
	stop(): Promise<void>;
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
	const port = options.port ?? (await freePort());
	const inspectorPort = await freePort();
	const persist = mkdtempSync(join(tmpdir(), "edge-guard-dev-"));
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
		"--show-interactive-dev-session=false",
		"--log-level",
		"log",
	];
	if (options.config) args.push("--config", options.config);
	for (const [k, v] of Object.entries(options.vars ?? {})) args.push("--var", `${k}:${v}`);

	const child: ChildProcess = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
		cwd: ROOT,
		detached: true, // its own process group, so stop() ends workerd too
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" },
	});
	let log = "";
	child.stdout?.on("data", (d) => (log += d));
	child.stderr?.on("data", (d) => (log += d));
	const origin = `http://127.0.0.1:${port}`;

	let stopped = false;
	const stop = async () => {
		if (stopped) return;
		stopped = true;
		try {
			if (child.pid) process.kill(-child.pid, "SIGTERM");
		} catch {}
		await new Promise<void>((r) => {
			if (child.exitCode !== null) return r();
			const t = setTimeout(() => {
				try {
					if (child.pid) process.kill(-child.pid, "SIGKILL");
				} catch {}
				r();
			}, 3000);
			child.once("exit", () => {
				clearTimeout(t);
				r();
			});
		});
		rmSync(persist, { recursive: true, force: true });
	};

	const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
	while (Date.now() < deadline) {
		if (child.exitCode !== null) break;
		try {
			const res = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(1000) });
			if (res.ok) return { origin, port, output: () => log, stop };
		} catch {}
		await new Promise((r) => setTimeout(r, 250));
	}
	await stop();
	throw new Error(`wrangler dev did not become ready on ${origin}:\n${redact(log, options.vars).slice(-3000)}`);
}

function redact(text: string, vars: Record<string, string> = {}): string {
	let out = text;
	for (const v of Object.values(vars)) if (v.length >= 8) out = out.split(v).join("[redacted]");
	return out;
}
