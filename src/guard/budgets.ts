/**
 * Limits that follow a principal across all of its sessions: a rolling loop
 * budget per workflow, and a rate limit on calls. Kept by the transport
 * adapter (a Durable Object per principal); the pipeline only asks.
 */
export type Admission = { ok: true } | { ok: false; limit: number; retryAfterSeconds: number };

export interface PrincipalBudget {
	/** Counts this call against the per-minute limit, unless the limit is reached. */
	admitCall(): Promise<Admission>;
	/** Reserves one attempt in the rolling window; returns how many there are now, this one included. */
	reserveLoopAttempt(tool: string, key: string): Promise<number>;
}
