/** Small, dependency-free statistics for the benchmark. */

export interface LatencyStats {
	n: number;
	mean_ms: number;
	min_ms: number;
	p50_ms: number;
	p95_ms: number;
	p99_ms: number;
	max_ms: number;
}

/** Percentile by linear interpolation between closest ranks (q in 0..1) of a sorted list. */
export function percentile(sorted: readonly number[], q: number): number {
	if (sorted.length === 0) return Number.NaN;
	if (sorted.length === 1) return sorted[0];
	const pos = (sorted.length - 1) * q;
	const lo = Math.floor(pos);
	const hi = Math.ceil(pos);
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values: readonly number[]): number {
	return percentile(
		[...values].sort((a, b) => a - b),
		0.5,
	);
}

export function summarize(samples: readonly number[]): LatencyStats {
	const sorted = [...samples].sort((a, b) => a - b);
	const sum = sorted.reduce((a, b) => a + b, 0);
	return {
		n: sorted.length,
		mean_ms: round(sum / sorted.length),
		min_ms: round(sorted[0]),
		p50_ms: round(percentile(sorted, 0.5)),
		p95_ms: round(percentile(sorted, 0.95)),
		p99_ms: round(percentile(sorted, 0.99)),
		max_ms: round(sorted[sorted.length - 1]),
	};
}

export function round(x: number, digits = 3): number {
	const f = 10 ** digits;
	return Math.round(x * f) / f;
}

/** Fixed-width text table: the first row is the header. Numbers are right-aligned. */
export function table(rows: readonly (readonly (string | number)[])[]): string {
	const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)));
	const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
	const numeric = rows[1]?.map((c) => typeof c === "number") ?? [];
	const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
	return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** The same table as GitHub markdown. */
export function markdownTable(rows: readonly (readonly (string | number)[])[]): string {
	const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)));
	const numeric = rows[1]?.map((c) => typeof c === "number") ?? [];
	const head = `| ${cells[0].join(" | ")} |`;
	const rule = `| ${cells[0].map((_, i) => (numeric[i] ? "---:" : "---")).join(" | ")} |`;
	return [head, rule, ...cells.slice(1).map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export function formatNumber(x: number): string {
	if (!Number.isFinite(x)) return String(x);
	const abs = Math.abs(x);
	if (Number.isInteger(x) || abs >= 1000) return Math.round(x).toLocaleString("en-US");
	if (abs >= 100) return x.toFixed(0);
	if (abs >= 10) return x.toFixed(1);
	if (abs >= 1) return x.toFixed(2);
	return x.toFixed(3);
}
