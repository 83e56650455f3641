/**
 * Limits that follow a principal across all of its sessions: a rolling loop
 * budget per workflow, and a rate limit on calls. Kept by the transport
 * adapter (a Durable Object per principal); the pipeline only asks.
 */
import type { Result } from "./result";

/** The per-minute limit was reached: how many calls it allows, and when one more will be admitted. */
export interface RateLimited {
	limit: number;
	retryAfterSeconds: number;
}

export type Admission = Result<void, RateLimited>;

export interface PrincipalBudget {
	/** Counts this call against the per-minute limit, unless the limit is reached. */
	admitCall(): Promise<Admission>;
	/** Reserves one attempt in the rolling window; returns how many there are now, this one included. */
	reserveLoopAttempt(tool: string, key: string): Promise<number>;
}
