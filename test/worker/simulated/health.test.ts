/** GET / and /health: what the server says about itself, and that no secret it holds is in it. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { operatorHashHex, TEST_OPERATOR_SECRET, TOKENS, tokenTableJson } from "../../support/test-tokens";
import { workerWith } from "../support/mcp";

/** Every secret the Worker can hold, each a value that cannot appear by chance. */
const SECRETS = {
	STAGE0_API_KEY: "sk-health-secret-7f3a9c0d1e2b4a68",
	MCP_AUTH_TOKENS: tokenTableJson(),
	OPERATOR_TOKEN_SHA256: operatorHashHex(),
	OIDC_ISSUER: "https://idp.example.test",
	OIDC_CLIENT_ID: "edge-guard-health",
	OIDC_CLIENT_SECRET: "oidc-health-secret-5d2e8b71c4a0f936",
};

/** What must never be shown: the values above, the token hashes inside the table, the tokens, the approver link's secret. */
const MUST_NOT_APPEAR = [
	SECRETS.STAGE0_API_KEY,
	SECRETS.OPERATOR_TOKEN_SHA256,
	SECRETS.OIDC_CLIENT_SECRET,
	TEST_OPERATOR_SECRET,
	...Object.keys(JSON.parse(SECRETS.MCP_AUTH_TOKENS) as Record<string, unknown>),
	...Object.values(TOKENS).map((t) => t.token),
];

describe("GET /", () => {
	it("describes the server: its name, mode and endpoints", async () => {
		const res = await exports.default.fetch(new Request("http://localhost/"));
		expect(res.status).toBe(200);
		const body = await res.json<Record<string, unknown>>();
		expect(body).toMatchObject({ name: "stage0-edge-guard", mode: "simulated", endpoints: { streamable_http: "/mcp", sse: "/sse" } });
	});

	it.each(["/", "/health"])(
		"%s shows none of the secrets the server holds (Stage0 key, token hashes, approver hash, OIDC secret)",
		async (path) => {
			const res = await workerWith(SECRETS)(new Request(`http://localhost${path}`));
			expect(res.status).toBe(200);
			const text = await res.text();
			// the secrets were read: the description reflects them
			expect(JSON.parse(text)).toMatchObject({ mode: "stage0", authentication: "bearer" });
			expect(MUST_NOT_APPEAR.filter((secret) => text.includes(secret))).toEqual([]);
		},
	);
});
