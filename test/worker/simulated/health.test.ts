import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /", () => {
	it("describes the server without secrets", async () => {
		const res = await exports.default.fetch(new Request("http://localhost/"));
		expect(res.status).toBe(200);
		const body = await res.json<Record<string, unknown>>();
		expect(body).toMatchObject({ name: "stage0-edge-guard", mode: "simulated", endpoints: { streamable_http: "/mcp", sse: "/sse" } });
	});
});
