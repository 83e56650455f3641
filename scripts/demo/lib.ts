/**
 * Shared bootstrap for the demos: find (or start) the edge guard, connect the
 * official MCP client to it, call guarded tools, and always clean up.
 *
 *   MCP_URL                  where the server's MCP endpoint is (default http://localhost:8787/mcp)
 *   MCP_TOKEN                a bearer token, for a server with MCP_AUTH_TOKENS (loopback needs none)
 *   DEMO_STARTUP_TIMEOUT_MS  how long to wait for a `wrangler dev` this script started (default 60000)
 *   DEMO_DEBUG               set to print stack traces of unexpected errors
 *   DEMO_AUTO_APPROVE, APPROVER_TOKEN   an unattended approval loop (see approval.ts)
 *
 * If nothing answers at <origin of MCP_URL>/health, the demo starts
 * `wrangler dev --ip 127.0.0.1 --port <port of MCP_URL>` itself, in its own
 * process group, and stops that whole group when it is done (or interrupted).
 * That server reads neither .dev.vars nor .env (scripts/lib/dev-server.ts): it
 * runs in simulated mode without tokens. For Stage0 or tokens, run `npm run dev` first.
 * Like `npm run dev`, it gives that server an approver link's secret.
 * A server that was already running is used as it is and left running.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type DevServer, newOperatorSecret, startDevServer } from "../lib/dev-server";

export const DEFAULT_MCP_URL = "http://localhost:8787/mcp";
const SERVER_NAME = "stage0-edge-guard";
const HEALTH_PROBE_TIMEOUT_MS = 1500;
const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;

/** A failure the demo explains in one message (no stack trace for the user). */
export class DemoError extends Error {}

/** What GET /health says about the server. */
export interface Health {
	name: string;
	version: string;
	mode: "stage0" | "simulated";
	stage0: { base_url: string; timeout_ms: number } | null;
	max_retries: number;
}

export interface Issue {
	code: string;
	severity: string;
	message: string;
}

/** A guarded tool's structuredContent, as the demos read it. */
export interface GuardResult {
	tool: string;
	verdict: "ALLOW" | "DENY" | "DEFER";
	decision: "GO" | "NO_GO" | "DEFER" | "ERROR";
	reason: string;
	request_id: string;
	policy_version: string;
	risk_score: number | null;
	high_risk: boolean;
	issues: Issue[];
	questions: string[];
	guardrails: string[];
	source: "stage0" | "simulated" | "local-rule" | "fault";
	executed: boolean;
	attempt?: { number: number; retry_count: number; max_retries: number; counted_retries: number; claimed_retry_count?: number };
	result?: Record<string, unknown>;
	error?: string;
	/** Things the server wants the caller to know (ignored claims, approvals used). */
	notes: string[];
	/** A pending approval a person can grant, when the server offers one. */
	approval?: { id: string; status: string; expires_at: string; url: string; approver?: "admin" | "operator" | "none" };
	/** Whether the MCP result was flagged isError (a blocked action is). */
	isError: boolean;
}

export interface DemoContext {
	client: Client;
	health: Health;
	mcpUrl: URL;
	/** The approver link's secret, when this demo started the server itself (so it knows it). */
	operatorSecret?: string;
	/** Calls a guarded tool and returns its structuredContent, checked. */
	call(tool: string, args: Record<string, unknown>): Promise<GuardResult>;
}

/** One scenario: prints its report and says whether the server answered as expected. */
export type Scenario = (ctx: DemoContext) => Promise<boolean>;

function note(message: string): void {
	console.error(`[demo] ${message}`);
}

// ---------------------------------------------------------------------------
// Finding the server

type Probe = { kind: "ours"; health: Health } | { kind: "other"; detail: string } | { kind: "none"; detail: string };

async function probeHealth(origin: string, timeoutMs = HEALTH_PROBE_TIMEOUT_MS): Promise<Probe> {
	let response: Response;
	try {
		response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(timeoutMs) });
	} catch (error) {
		const cause = (error as { cause?: { code?: string } }).cause?.code;
		return { kind: "none", detail: cause ?? (error instanceof Error ? error.message : String(error)) };
	}
	let body: unknown;
	try {
		body = await response.json();
	} catch {
		return { kind: "other", detail: `HTTP ${response.status}, not JSON` };
	}
	const h = body as Partial<Health> | null;
	if (response.ok && h && h.name === SERVER_NAME && (h.mode === "stage0" || h.mode === "simulated")) {
		return {
			kind: "ours",
			health: {
				name: h.name,
				version: String(h.version ?? "?"),
				mode: h.mode,
				stage0: h.stage0 ?? null,
				max_retries: typeof h.max_retries === "number" && h.max_retries > 0 ? h.max_retries : 5,
			},
		};
	}
	return { kind: "other", detail: `HTTP ${response.status}, name ${JSON.stringify(h?.name ?? null)}` };
}

function isLoopbackHost(hostname: string): boolean {
	return ["localhost", "127.0.0.1", "[::1]", "::1"].includes(hostname.toLowerCase());
}

function startupTimeoutMs(): number {
	const raw = Number(process.env.DEMO_STARTUP_TIMEOUT_MS);
	return Number.isFinite(raw) && raw > 0 ? raw : DEFAULT_STARTUP_TIMEOUT_MS;
}

// ---------------------------------------------------------------------------
// Calling tools

const VERDICTS = new Set(["ALLOW", "DENY", "DEFER"]);
const DECISIONS = new Set(["GO", "NO_GO", "DEFER", "ERROR"]);

function textOf(result: Record<string, unknown>): string {
	const content = Array.isArray(result.content) ? result.content : [];
	return content
		.map((c: { type?: string; text?: string }) => (c.type === "text" ? c.text : `[${c.type}]`))
		.join("\n")
		.trim();
}

async function callGuarded(client: Client, tool: string, args: Record<string, unknown>): Promise<GuardResult> {
	const result = await client.callTool({ name: tool, arguments: args });
	const s = result.structuredContent as Record<string, unknown> | undefined;
	if (!s || typeof s !== "object") {
		throw new DemoError(
			`${tool} returned no structuredContent${result.isError ? " (isError)" : ""}. Its text: ${textOf(result) || "(none)"}`,
		);
	}
	if (!VERDICTS.has(String(s.verdict)) || !DECISIONS.has(String(s.decision)) || typeof s.request_id !== "string") {
		throw new DemoError(`${tool} returned an unexpected structuredContent: ${JSON.stringify(s)}`);
	}
	return {
		...(s as unknown as Omit<GuardResult, "isError">),
		issues: Array.isArray(s.issues) ? (s.issues as Issue[]) : [],
		questions: Array.isArray(s.questions) ? (s.questions as string[]) : [],
		guardrails: Array.isArray(s.guardrails) ? (s.guardrails as string[]) : [],
		notes: Array.isArray(s.notes) ? (s.notes as string[]) : [],
		isError: result.isError === true,
	};
}

// ---------------------------------------------------------------------------
// Running a demo

/**
 * Runs one demo end to end and returns the process exit code: 0 when every
 * scenario ran and answered as expected, 1 otherwise.
 */
export async function runDemo(scenarios: Scenario[]): Promise<number> {
	let server: DevServer | undefined;
	let client: Client | undefined;
	let transport: StreamableHTTPClientTransport | undefined;

	let interrupted = false;
	const onExit = () => server?.killNow();
	const onSignal = (signal: NodeJS.Signals) => {
		interrupted = true;
		note(`${signal}: stopping.`);
		const code = signal === "SIGINT" ? 130 : 143;
		void (server ? server.stop() : Promise.resolve()).finally(() => process.exit(code));
	};
	process.once("exit", onExit);
	process.once("SIGINT", onSignal);
	process.once("SIGTERM", onSignal);

	try {
		const raw = process.env.MCP_URL?.trim() || DEFAULT_MCP_URL;
		let mcpUrl: URL;
		try {
			mcpUrl = new URL(raw);
		} catch {
			throw new DemoError(`MCP_URL is not a URL: ${raw}`);
		}
		const origin = mcpUrl.origin;

		let health: Health;
		const probe = await probeHealth(origin);
		if (probe.kind === "ours") {
			health = probe.health;
			note(`Using the server already running at ${origin} (${health.mode} mode).`);
		} else if (probe.kind === "other") {
			throw new DemoError(
				`${origin}/health answered, but not as ${SERVER_NAME} (${probe.detail}). Something else is using that port: stop it, or point MCP_URL at another port, e.g. MCP_URL=http://localhost:${Number(mcpUrl.port || 80) + 1}/mcp.`,
			);
		} else {
			if (!isLoopbackHost(mcpUrl.hostname) || mcpUrl.protocol !== "http:") {
				throw new DemoError(
					`Nothing answers at ${origin}/health (${probe.detail}), and it is not a local http address, so the demo will not start a server for it.`,
				);
			}
			const port = Number(mcpUrl.port || 80);
			const timeoutMs = startupTimeoutMs();
			note(
				`Nothing answers at ${origin}/health (${probe.detail}); starting \`wrangler dev --ip 127.0.0.1 --port ${port}\` without .dev.vars (simulated mode, no tokens; for Stage0 or tokens, start \`npm run dev\` first)...`,
			);
			const started = Date.now();
			try {
				server = await startDevServer({ port, readyTimeoutMs: timeoutMs, operatorSecret: newOperatorSecret() });
			} catch (error) {
				throw new DemoError(error instanceof Error ? error.message : String(error));
			}
			const ready = await probeHealth(origin);
			if (ready.kind !== "ours") throw new DemoError(`${origin}/health answered, but not as ${SERVER_NAME}.`);
			health = ready.health;
			note(
				`Server ready after ${((Date.now() - started) / 1000).toFixed(1)} s (${health.mode} mode; wrangler pid ${server.pid}, its own process group).`,
			);
		}

		client = new Client({ name: "stage0-edge-guard-demo", version: "0.1.0" });
		const token = process.env.MCP_TOKEN?.trim();
		transport = new StreamableHTTPClientTransport(
			mcpUrl,
			token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : undefined,
		);
		try {
			await client.connect(transport);
		} catch (error) {
			const message = error instanceof Error ? error.message : String(error);
			const hint = /\b401\b|unauthori[sz]ed|invalid_token|invalid_request/i.test(message)
				? token
					? " (the server refused MCP_TOKEN)"
					: " (the server wants a bearer token: set MCP_TOKEN to one made with `npm run token:new`)"
				: "";
			throw new DemoError(`Could not open an MCP session at ${mcpUrl.href}${hint}: ${message}`);
		}
		const connected = client;
		const ctx: DemoContext = {
			client: connected,
			health,
			mcpUrl,
			operatorSecret: server?.operatorSecret,
			call: (tool, args) => callGuarded(connected, tool, args),
		};

		let allAsExpected = true;
		for (const scenario of scenarios) {
			if (!(await scenario(ctx))) allAsExpected = false;
		}
		return allAsExpected ? 0 : 1;
	} catch (error) {
		if (interrupted) return 130; // the signal handler is stopping the server and exiting
		const message = error instanceof Error ? (process.env.DEMO_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
		console.error(`\nDEMO FAILED: ${message}`);
		return 1;
	} finally {
		if (transport) {
			// End the MCP session on the server, then close the client.
			await transport.terminateSession().catch(() => {});
		}
		await client?.close().catch(() => {});
		if (server) {
			await server.stop();
			note("Stopped the wrangler dev this demo started.");
		}
		process.removeListener("SIGINT", onSignal);
		process.removeListener("SIGTERM", onSignal);
		process.removeListener("exit", onExit);
	}
}
