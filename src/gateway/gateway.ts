/**
 * The gateway of one MCP session: connects to every configured upstream,
 * registers each upstream tool (as `<upstream>.<tool>`) through the same
 * registration function and pipeline as the built-in tools, and keeps the
 * registered set in step with the upstream's list.
 *
 * Where the connections live: in the session's Durable Object (GuardAgent),
 * one Client per upstream, opened once and reused for every call of the
 * session (and reopened only if it breaks). workerd binds an open stream to
 * the object that opened it, so one connection cannot safely serve several
 * session objects, even in the same isolate; per session, a run of 1,000 calls
 * opens one connection per upstream (measured by `npm run bench`).
 *
 * An upstream that is down, slow or misconfigured never holds up the session:
 * the session starts once every upstream has answered or a short start-up
 * wait has passed; a late upstream's tools are added when it answers (clients
 * get notifications/tools/list_changed), and a failed one is retried with a
 * growing pause.
 */
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { GuardedTool } from "../guard/pipeline";
import { type DepsForCaller, registerGuardedTools } from "../tools/register";
import { type GatewayConfig, scrubHeaderValues } from "./config";
import { recordStatus } from "./status";
import { upstreamToolDefinition } from "./tools";
import { UpstreamConnection, UpstreamError, type UpstreamStatus, type UpstreamTool } from "./upstream";

/** How long a new session waits for its upstreams before it serves without the late ones. */
const STARTUP_WAIT_MS = 3000;
const RETRY_FIRST_MS = 5000;

export interface GatewayOptions {
	server: McpServer;
	config: GatewayConfig;
	/** The pipeline's dependencies for the caller of a forwarded call (its role is that of its own request). */
	depsFor: DepsForCaller;
}

export class Gateway {
	readonly #connections: UpstreamConnection[];
	readonly #registered = new Map<
		string,
		Map<string, { handle: RegisteredTool; fingerprint: string; definition: GuardedTool<never, unknown> }>
	>();
	readonly #retryMs = new Map<string, number>();
	#closed = false;

	constructor(private readonly options: GatewayOptions) {
		const scrub = (text: string) => scrubHeaderValues(text, options.config.upstreams);
		this.#connections = options.config.upstreams.map(
			(upstream) =>
				new UpstreamConnection(upstream, options.config.refreshSeconds * 1000, {
					scrub,
					onTools: (tools) => this.#sync(upstream.name, tools),
					onStatus: recordStatus,
				}),
		);
		for (const c of this.#connections) recordStatus(c.status());
	}

	/** Connects to every upstream; waits at most a short while, and never fails. */
	async start(): Promise<void> {
		const all = Promise.allSettled(this.#connections.map((c) => this.#connect(c)));
		let timer: ReturnType<typeof setTimeout> | undefined;
		await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, STARTUP_WAIT_MS)))]);
		clearTimeout(timer);
	}

	/** Lists every upstream's tools again now (the explicit refresh). */
	async refresh(): Promise<UpstreamStatus[]> {
		await Promise.allSettled(this.#connections.map((c) => c.refresh()));
		return this.statuses();
	}

	/** The guarded tool exposed under this name, if it is an upstream's (for per-request visibility). */
	definitionOf(name: string): GuardedTool<never, unknown> | undefined {
		for (const tools of this.#registered.values())
			for (const entry of tools.values()) if (entry.definition.name === name) return entry.definition;
		return undefined;
	}

	statuses(): UpstreamStatus[] {
		return this.#connections.map((c) => c.status());
	}

	async close(): Promise<void> {
		this.#closed = true;
		await Promise.allSettled(this.#connections.map((c) => c.close()));
	}

	async #connect(connection: UpstreamConnection): Promise<void> {
		try {
			await connection.start();
			this.#retryMs.delete(connection.config.name);
		} catch (error) {
			if (connection.config.error || this.#closed) return;
			// Down at start-up: try again later, pausing longer each time (up to the refresh interval).
			const pause = this.#retryMs.get(connection.config.name) ?? RETRY_FIRST_MS;
			this.#retryMs.set(connection.config.name, Math.min(pause * 2, this.options.config.refreshSeconds * 1000));
			console.warn(`gateway: ${error instanceof UpstreamError ? error.message : "upstream failed"}; retrying in ${pause / 1000} s`);
			setTimeout(() => void this.#connect(connection), pause);
		}
	}

	/** Registers what is new or changed, removes what is gone. */
	#sync(upstream: string, tools: readonly UpstreamTool[]): void {
		const connection = this.#connections.find((c) => c.config.name === upstream)!;
		const current = this.#registered.get(upstream) ?? new Map();
		this.#registered.set(upstream, current);
		const wanted = new Map<string, { tool: UpstreamTool; fingerprint: string }>();
		for (const tool of tools) wanted.set(tool.name, { tool, fingerprint: JSON.stringify(tool) });

		for (const [name, entry] of current) {
			if (wanted.get(name)?.fingerprint !== entry.fingerprint) {
				entry.handle.remove();
				current.delete(name);
			}
		}
		const target = {
			upstream,
			forward: (tool: string, args: Record<string, unknown>, options: { retrySafe: boolean }) => connection.call(tool, args, options),
		};
		const shadow = this.options.config.guardMode === "shadow";
		for (const [name, { tool, fingerprint }] of wanted) {
			if (current.has(name)) continue;
			const definition = upstreamToolDefinition(target, tool);
			if (!definition) {
				console.warn(`gateway: upstream '${upstream}' tool '${name.slice(0, 80)}' has a name MCP clients cannot call; not exposed`);
				continue;
			}
			// Who may see and call it is decided per request, by the local policy (see gateToolRequests).
			try {
				const [handle] = registerGuardedTools(this.options.server, [definition], this.options.depsFor, { shadow }).values();
				current.set(name, { handle, fingerprint, definition });
			} catch (error) {
				console.warn(`gateway: could not expose '${definition.name}': ${error instanceof Error ? error.message : String(error)}`);
			}
		}
	}
}
