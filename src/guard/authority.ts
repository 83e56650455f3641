/** Picks the authority for a configuration: Stage0 with a key, the simulator without. */
import type { GuardConfig } from "../config";
import type { Authority } from "./decision";
import { SimulatedAuthority } from "./simulated-authority";
import { Stage0Client } from "./stage0-client";

export function createAuthority(config: GuardConfig, fetchImpl?: typeof fetch): Authority {
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
