/**
 * Starts the Worker with `wrangler dev` on loopback, for demos, end-to-end
 * tests and benchmarks, and stops it again (its whole process group, so no
 * workerd is left behind).
 *
 * The Worker gets wrangler.jsonc's vars and the `vars` given here, nothing else:
 * a developer's .dev.vars, .env or shell (their tokens, their Stage0 key) never
 * reach it. `--env-file` names an empty file, so wrangler reads neither
 * .dev.vars nor .env (for the Worker or for itself), and the two
 * CLOUDFLARE_* switches keep it from loading that file or process.env as secrets.
 * The one exception is `npm run dev` (developerConfig): the developer's own server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "node_modules/.bin");
const STOP_GRACE_MS = 5000;
/** The only address the Worker is ever bound to by this helper. */
const LOOPBACK_IP = "127.0.0.1";

export interface DevServer {
	/** e.g. http://127.0.0.1:8787 */
	origin: string;
	port: number;
	pid: number | undefined;
	/** The approver link's secret, when the server was started with one (see operatorSecret). */
	operatorSecret?: string;
	/** Resolves when wrangler has exited, with its exit code (null after a signal). */
	exited: Promise<number | null>;
	/** Everything wrangler printed so far. */
	output(): string;
	stop(): Promise<void>;
	/** Last resort, synchronous (for process "exit"). */
	killNow(): void;
	/** A crash: SIGKILL of the whole process group, resolved once it is gone (the state directory is kept). */
	kill(): Promise<void>;
}

export interface DevServerOptions {
	port?: number;
	/** Worker vars and secrets, passed as --var (never printed). */
	vars?: Record<string, string>;
	/** Another wrangler config, e.g. a bench build. */
	config?: string;
	readyTimeoutMs?: number;
	/** Attest the loopback bind to the Worker (DEV_LOOPBACK_BIND); default true. Tests of the refusal pass false. */
	attestLoopback?: boolean;
	/**
	 * The approver link's secret (see newOperatorSecret): only its SHA-256 reaches
	 * the Worker, as OPERATOR_TOKEN_SHA256; the secret is in no file and no argument.
	 */
	operatorSecret?: string;
	/** Keep Durable Object state in this directory across starts; default: a fresh one, removed on stop. */
	persistTo?: string;
	/** Also copy wrangler's output to this process's stdout/stderr (for `npm run dev`). */
	echo?: boolean;
	/**
	 * Read the developer's .dev.vars (or .env) as plain `wrangler dev` does. Only for
	 * `npm run dev`, the developer's own server; tests, demos and benchmarks never do.
	 */
	developerConfig?: boolean;
}

/** A fresh random secret for the approver link of one server run. */
export function newOperatorSecret(): string {
	return `op_${randomBytes(32).toString("base64url")}`;
}

export function sha256Hex(text: string): string {
	return createHash("sha256").update(text).digest("hex");
}

/** Whether nothing listens on 127.0.0.1:port (so a /health answer there would be someone else's). */
export function portIsFree(port: number): Promise<boolean> {
	return new Promise((resolveFree) => {
		const server = createServer();
		server.once("error", () => resolveFree(false));
		server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
	});
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
	if (options.port !== undefined && !(await portIsFree(options.port))) {
		throw new Error(
			`Port ${options.port} on 127.0.0.1 is already in use (another \`npm run dev\`?). Stop it, or choose another port: PORT=8931 npm run dev, or npm run dev -- --port 8931.`,
		);
	}
	const port = options.port ?? (await freePort());
	const inspectorPort = await freePort();
	// By default a fresh state directory: every start begins with empty Durable Objects.
	const persist = options.persistTo ?? mkdtempSync(join(tmpdir(), "edge-guard-dev-"));
	const scratch = mkdtempSync(join(tmpdir(), "edge-guard-env-"));
	const noEnvFile = join(scratch, "empty.env");
	writeFileSync(noEnvFile, "");
	const args = [
		"dev",
		"--ip",
		LOOPBACK_IP,
		"--port",
		String(port),
		"--inspector-port",
		String(inspectorPort),
		"--persist-to",
		persist,
		...(options.developerConfig ? [] : ["--env-file", noEnvFile]),
		"--show-interactive-dev-session=false",
		"--log-level",
		"log",
	];
	if (options.config) args.push("--config", options.config);
	// The attestation that wrangler dev listens on loopback only: without MCP_AUTH_TOKENS the Worker serves
	// nobody without it, since it cannot see the peer's address itself.
	const vars: Record<string, string> = {};
	if (options.attestLoopback !== false) vars.DEV_LOOPBACK_BIND = LOOPBACK_IP;
	Object.assign(vars, options.vars);
	if (options.operatorSecret) vars.OPERATOR_TOKEN_SHA256 = sha256Hex(options.operatorSecret);
	for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);

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
			...(options.developerConfig ? {} : { CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false", CLOUDFLARE_INCLUDE_PROCESS_ENV: "false" }),
		},
	});
	let log = "";
	child.stdout?.on("data", (d) => ((log += d), options.echo && process.stdout.write(d)));
	child.stderr?.on("data", (d) => ((log += d), options.echo && process.stderr.write(d)));
	let exited = false;
	const exit = new Promise<number | null>((done) => {
		child.once("exit", (code) => ((exited = true), done(code)));
		child.once("error", (error) => ((log += `spawn error: ${error.message}\n`), (exited = true), done(1)));
	});
	const origin = `http://${LOOPBACK_IP}:${port}`;

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
		if (!options.persistTo) rmSync(persist, { recursive: true, force: true });
		rmSync(scratch, { recursive: true, force: true });
	};
	const kill = async () => {
		stopped = true;
		signalGroup("SIGKILL");
		await exit;
		const deadline = Date.now() + STOP_GRACE_MS;
		while (groupExists() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
	};
	const server: DevServer = {
		origin,
		port,
		pid: child.pid,
		operatorSecret: options.operatorSecret,
		exited: exit,
		output: () => log,
		stop,
		killNow: () => signalGroup("SIGKILL"),
		kill,
	};

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
	throw new Error(`${why}. Its last output:\n${tail(redact(log, { ...options.vars, operator: options.operatorSecret ?? "" }))}`);
}

function tail(text: string, lines = 40): string {
	const last = text
		.split(/\r?\n/)
		.filter((l) => l.trim())
		.slice(-lines);
	return last.length ? last.map((l) => `    | ${l}`).join("\n") : "    (no output)";
}

function redact(text: string, vars: Record<string, string> = {}): string {
	let out = text;
	for (const v of Object.values(vars)) if (v.length >= 8) out = out.split(v).join("[redacted]");
	return out;
}
