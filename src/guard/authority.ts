/** Picks the authority for a configuration: Stage0 with a key, the simulator without. */
import type { Authority } from "./decision";
import { SimulatedAuthority } from "./simulated-authority";
import { Stage0Client } from "./stage0-client";

/** What the core needs to know to pick (the adapter's configuration has more): Stage0 mode always has a key. */
export type AuthorityConfig =
	| { mode: "simulated" }
	| {
			mode: "stage0";
			/** Never log or return it. */
			apiKey: string;
			baseUrl: string;
			timeoutMs: number;
	  };

export function createAuthority(config: AuthorityConfig, fetchImpl?: typeof fetch): Authority {
	switch (config.mode) {
		case "stage0":
			return new Stage0Client({ apiKey: config.apiKey, baseUrl: config.baseUrl, timeoutMs: config.timeoutMs, fetch: fetchImpl });
		case "simulated":
			return new SimulatedAuthority();
	}
}
