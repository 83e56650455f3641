/**
 * The gateway's configuration: which remote MCP servers (upstreams) the guard
 * sits in front of, and the format of their entries. src/config.ts reads the
 * variables (and their defaults); this module parses the upstream entries.
 *
 *   UPSTREAM_MCP_URL + UPSTREAM_MCP_HEADERS (+ UPSTREAM_NAME)   one upstream
 *   UPSTREAMS                                                   several: name → { url, headers?, timeout_ms? }
 *
 * A malformed entry never stops the guard: it becomes an upstream in an error
 * state (shown in GET /, without its headers) and the rest keeps working.
 * Error messages never quote a header value.
 */

/** The largest upstream answer the guard accepts. */
export const MAX_UPSTREAM_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A name becomes the prefix of `<name>.<tool>`: no dots, nothing a client could misread. */
const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

export interface UpstreamConfig {
	name: string;
	url: string;
	/** Sent to this upstream only. Never logged, returned or shown in an error. */
	headers: Record<string, string>;
	timeoutMs: number;
	/** Set when the entry could not be used; the upstream is then never contacted. */
	error?: string;
}

export type GuardMode = "enforce" | "shadow";

export interface GatewayConfig {
	upstreams: UpstreamConfig[];
	builtinTools: boolean;
	refreshSeconds: number;
	guardMode: GuardMode;
}

function positiveInt(raw: unknown, fallback: number, max: number): number {
	if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return fallback;
	const n = Number(raw);
	return Number.isInteger(n) && n >= 1 && n <= max ? n : fallback;
}

function parseHeaders(raw: unknown, what: string): { headers: Record<string, string>; error?: string } {
	if (raw === undefined || raw === null || raw === "") return { headers: {} };
	let value = raw;
	if (typeof raw === "string") {
		try {
			value = JSON.parse(raw);
		} catch {
			return { headers: {}, error: `${what} is not valid JSON` };
		}
	}
	if (!value || typeof value !== "object" || Array.isArray(value))
		return { headers: {}, error: `${what} must be a JSON object of header names to values` };
	const headers: Record<string, string> = {};
	for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
		if (typeof v !== "string" || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) {
			return { headers: {}, error: `${what}: header '${k.slice(0, 40)}' must be a valid name with a string value` };
		}
		headers[k] = v;
	}
	return { headers };
}

function checkUrl(raw: unknown): string | undefined {
	if (typeof raw !== "string") return undefined;
	try {
		const url = new URL(raw.trim());
		return url.protocol === "https:" || url.protocol === "http:" ? url.toString() : undefined;
	} catch {
		return undefined;
	}
}

function upstream(name: string, url: unknown, headers: unknown, timeout: unknown, defaultTimeout: number, source: string): UpstreamConfig {
	const base = { name, url: "", headers: {}, timeoutMs: positiveInt(timeout, defaultTimeout, 600_000) };
	if (!UPSTREAM_NAME.test(name))
		return { ...base, name: name.slice(0, 40) || "(empty)", error: `${source}: the name must be 1-40 letters, digits, '-' or '_'` };
	const checkedUrl = checkUrl(url);
	if (!checkedUrl) return { ...base, error: `${source}: url must be an http(s) URL` };
	const parsed = parseHeaders(headers, `${source} headers`);
	if (parsed.error) return { ...base, url: checkedUrl, error: parsed.error };
	return { ...base, url: checkedUrl, headers: parsed.headers };
}

/** The raw variables an upstream list is read from (src/config.ts reads them). */
export interface UpstreamSource {
	/** UPSTREAM_MCP_URL (set), its name (UPSTREAM_NAME or the default) and UPSTREAM_MCP_HEADERS. */
	single?: { name: string; url: string | undefined; headers: string | undefined };
	/** UPSTREAMS (set). */
	table?: string;
}

/** The upstreams of the single-upstream variables, then of the UPSTREAMS table; `timeoutMs` is UPSTREAM_TIMEOUT_MS. */
export function parseUpstreams(source: UpstreamSource, timeoutMs: number): UpstreamConfig[] {
	const upstreams: UpstreamConfig[] = [];
	if (source.single) {
		upstreams.push(upstream(source.single.name, source.single.url, source.single.headers, undefined, timeoutMs, "UPSTREAM_MCP_URL"));
	}
	if (source.table !== undefined) {
		let table: unknown;
		try {
			table = JSON.parse(source.table);
		} catch {
			table = undefined;
		}
		if (!table || typeof table !== "object" || Array.isArray(table)) {
			upstreams.push({
				name: "UPSTREAMS",
				url: "",
				headers: {},
				timeoutMs,
				error: "UPSTREAMS must be a JSON object: name → { url, headers?, timeout_ms? }",
			});
		} else {
			for (const [name, entry] of Object.entries(table as Record<string, unknown>)) {
				const e = (entry && typeof entry === "object" ? entry : {}) as Record<string, unknown>;
				const where = `UPSTREAMS.${name.slice(0, 40)}`;
				const config = upstream(name, e.url, e.headers, e.timeout_ms, timeoutMs, where);
				if (upstreams.some((u) => u.name === config.name)) config.error = `${where}: the name is used twice`;
				upstreams.push(config);
			}
		}
	}
	return upstreams;
}

/** Replaces every header value of every upstream in a text (error messages, anything that could echo them). */
export function scrubHeaderValues(text: string, upstreams: readonly UpstreamConfig[]): string {
	let out = text;
	for (const u of upstreams) {
		for (const v of Object.values(u.headers)) {
			if (v.length >= 4) out = out.split(v).join("[redacted]");
			// A bearer token is often echoed without its scheme.
			const bare = v.replace(/^\s*(Bearer|Basic|Token)\s+/i, "");
			if (bare !== v && bare.length >= 4) out = out.split(bare).join("[redacted]");
		}
	}
	return out;
}
