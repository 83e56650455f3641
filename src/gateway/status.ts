/**
 * What this isolate last saw of each upstream, for GET /: state, tool count,
 * last error (already scrubbed of header values), never the headers.
 */
import { recordUpstreamInputSchemas } from "../policy/tool-inputs";
import type { GatewayConfig } from "./config";
import { UpstreamConnection, type UpstreamStatus } from "./upstream";

const seen = new Map<string, UpstreamStatus>();

export function recordStatus(status: UpstreamStatus): void {
	seen.set(status.name, status);
}

/** How long GET / waits for an upstream it has not seen yet. */
const PROBE_MS = 2000;

/**
 * The upstreams' states as seen from this isolate. One that this isolate has
 * not seen within the refresh interval is probed (connect, list, close) when
 * `probe` is set, bounded to a short wait.
 */
export async function upstreamStatuses(config: GatewayConfig, probe: boolean, scrub: (text: string) => string): Promise<UpstreamStatus[]> {
	const fresh = (s: UpstreamStatus | undefined) =>
		s?.checked_at !== undefined && Date.now() - Date.parse(s.checked_at) < config.refreshSeconds * 1000 && s.state !== "connecting";
	if (probe) {
		const stale = config.upstreams.filter((u) => !fresh(seen.get(u.name)));
		await Promise.allSettled(
			stale.map(async (u) => {
				const connection = new UpstreamConnection({ ...u, timeoutMs: Math.min(u.timeoutMs, PROBE_MS) }, config.refreshSeconds * 1000, {
					scrub,
					onTools: (tools) => recordUpstreamInputSchemas(u.name, tools),
					onStatus: recordStatus,
				});
				await connection.start().catch(() => {});
				await connection.close();
			}),
		);
	}
	return config.upstreams.map((u) => {
		const s = seen.get(u.name) ?? { name: u.name, state: u.error ? "misconfigured" : "connecting", tools: 0, connections_opened: 0 };
		const { connections_opened: _local, ...shown } = s;
		return { ...shown, ...(u.error ? { state: "misconfigured" as const, last_error: u.error } : {}) } as UpstreamStatus;
	});
}
