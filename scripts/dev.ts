/**
 * `npm run dev`: serves the Worker on 127.0.0.1 with `wrangler dev`, and in
 * loopback-only mode (no MCP_AUTH_TOKENS) prints an approver link for the
 * person at this terminal.
 *
 *   npm run dev                      port 8787
 *   PORT=8931 npm run dev            another port
 *   npm run dev -- --port 8931       likewise
 *   npm run dev -- --persist-to DIR  keep Durable Object state in DIR (default .wrangler/state)
 *
 * The link carries a secret minted here at each start (a Worker may not make
 * random values outside a request, so it cannot mint it itself). Only its
 * SHA-256 goes to the Worker (OPERATOR_TOKEN_SHA256); the secret is in no file,
 * no process argument and no log, and stops working when this server stops.
 * Durable Object state is kept in .wrangler/state, as with plain `wrangler dev`.
 */
import { resolve } from "node:path";
import { newOperatorSecret, startDevServer } from "./lib/dev-server";

const DEFAULT_PORT = 8787;
const USAGE = `Usage: npm run dev [-- --port N] [--persist-to DIR]   (or PORT=N npm run dev; default port ${DEFAULT_PORT})
Serves the edge guard on http://127.0.0.1:N/mcp (and /sse). Only loopback: for other wrangler
options run \`npx wrangler dev\` directly (it prints no approver link).`;

function fail(message: string): never {
	console.error(`npm run dev: ${message}\n\n${USAGE}`);
	process.exit(2);
}

function parsePort(raw: string, from: string): number {
	const port = Number(raw);
	if (!/^\d+$/.test(raw.trim()) || port < 1 || port > 65535) fail(`${from} must be a port number (1-65535), not ${JSON.stringify(raw)}.`);
	return port;
}

function parseArgs(argv: string[]): { port: number; persistTo: string } {
	let port = process.env.PORT?.trim() ? parsePort(process.env.PORT, "PORT") : DEFAULT_PORT;
	let persistTo = resolve(import.meta.dirname, "../.wrangler/state");
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === "--help" || arg === "-h") {
			console.log(USAGE);
			process.exit(0);
		} else if (arg === "--port" || arg === "-p") {
			if (argv[i + 1] === undefined) fail(`${arg} needs a value.`);
			port = parsePort(argv[++i], arg);
		} else if (arg.startsWith("--port=")) {
			port = parsePort(arg.slice("--port=".length), "--port");
		} else if (arg === "--persist-to" && argv[i + 1] !== undefined) {
			persistTo = resolve(argv[++i]);
		} else {
			fail(`unknown option ${JSON.stringify(arg)}.`);
		}
	}
	return { port, persistTo };
}

const { port, persistTo } = parseArgs(process.argv.slice(2));
const operatorSecret = newOperatorSecret();
let server: Awaited<ReturnType<typeof startDevServer>>;
try {
	server = await startDevServer({ port, operatorSecret, persistTo, echo: true, developerConfig: true });
} catch (error) {
	console.error(`\nnpm run dev: ${error instanceof Error ? error.message : String(error)}`);
	process.exit(1);
}

let stopping = false;
const stop = (code: number) => {
	if (stopping) return;
	stopping = true;
	void server.stop().finally(() => process.exit(code));
};
process.once("SIGINT", () => stop(130));
process.once("SIGTERM", () => stop(143));
process.once("exit", () => server.killNow());

const health = (await fetch(`${server.origin}/health`).then((r) => r.json())) as { mode?: string; authentication?: string };
console.log("");
console.log(`stage0-edge-guard is ready (${health.mode} mode): MCP at ${server.origin}/mcp (and /sse)`);
if (health.authentication === "loopback-only") {
	// The only place the secret is ever shown: this person's terminal.
	console.log(`Approver link (signs you in as operator, admin; valid until this server stops; do not give it to an agent):`);
	console.log(`  ${server.origin}/approvals#operator=${operatorSecret}`);
} else {
	console.log(`MCP_AUTH_TOKENS is set: approvers sign in at ${server.origin}/approvals with an admin token (no approver link).`);
}
console.log("Press Ctrl-C to stop.");
console.log("");

const code = await server.exited;
if (!stopping) {
	console.error(`npm run dev: wrangler dev exited (${code ?? "signal"}).`);
	stop(code ?? 1);
}
