/**
 * The Worker under test sees exactly the variables its test project set, in
 * every in-Worker project: nothing from a developer's .dev.vars or .env (their
 * tokens would make every loopback test fail with "Missing Authorization";
 * their Stage0 key would send test calls to a real Stage0).
 * test/e2e/hermetic.test.ts runs this with a hostile .dev.vars and .env.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EXPECTED_BINDINGS, WORKER_VARIABLES } from "../support/worker-env";

const bindings = env as unknown as Record<string, unknown>;
const expected = JSON.parse(String(bindings[EXPECTED_BINDINGS])) as Record<string, string>;

describe("the test project's variables, and only those", () => {
	it("sets every variable the Worker reads", () => {
		expect(Object.keys(expected).sort()).toEqual([...WORKER_VARIABLES].sort());
	});

	it.each(WORKER_VARIABLES)("%s has the value the test project set", (name) => {
		expect(bindings[name] ?? "").toBe(expected[name]);
	});

	it("GET /health reports the mode and authentication the project configured", async () => {
		const health = (await (await exports.default.fetch(new Request("http://localhost/health"))).json()) as Record<string, unknown>;
		expect(health.mode).toBe(expected.STAGE0_API_KEY ? "stage0" : "simulated");
		expect(health.authentication).toBe(expected.MCP_AUTH_TOKENS ? "bearer" : "loopback-only");
		expect(health.max_retries).toBe(Number(expected.MAX_RETRIES));
	});
});
