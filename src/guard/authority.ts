/** Picks the authority for a configuration: Stage0 with a key, the simulator without. */
import type { Authority } from "./decision";
import { SimulatedAuthority } from "./simulated-authority";
import { Stage0Client } from "./stage0-client";

/** What the core needs to know to pick (the adapter's configuration has more). */
export interface AuthorityConfig {
	mode: "stage0" | "simulated";
	/** Present only in stage0 mode. Never log or return it. */
	apiKey?: string;
	baseUrl: string;
	timeoutMs: number;
}

export function createAuthority(config: AuthorityConfig, fetchImpl?: typeof fetch): Authority {
	if (config.mode === "stage0" && config.apiKey) {
		return new Stage0Client({
			apiKey: config.apiKey,
			baseUrl: config.baseUrl,
			timeoutMs: config.timeoutMs,
			fetch: fetchImpl,
		});
	}
	return new SimulatedAuthority();
}
