import { describe, expect, it } from "vitest";
import type { CheckRequest } from "../../src/guard/decision";
import { MAX_CHECK_BODY_BYTES, Stage0Client } from "../../src/guard/stage0-client";

const KEY = "sk-live-SECRET-abcdef0123456789";
const request: CheckRequest = {
	goal: "Deploy the billing service to staging",
	success_criteria: ["Deployment succeeds"],
	constraints: [],
	tools: ["deploy-changes"],
	side_effects: ["deploy"],
	context: { environment: "staging" },
	pro: false,
};

type Handler = (init: RequestInit, call: number) => Response | Promise<Response>;

function client(handler: Handler, timeoutMs = 1000) {
	const calls: { url: string; init: RequestInit }[] = [];
	const fetchImpl = (async (url: string, init: RequestInit) => {
		calls.push({ url, init });
		return handler(init, calls.length);
	}) as unknown as typeof fetch;
	return { calls, client: new Stage0Client({ apiKey: KEY, baseUrl: "https://stage0.test", timeoutMs, fetch: fetchImpl }) };
}

const allow = (over: Record<string, unknown> = {}) =>
	Response.json({ verdict: "ALLOW", decision: "GO", reason: "fine", request_id: "r-1", policy_version: "p-7", risk_score: 12, ...over });

/** A fetch that never answers but honours its abort signal, like a hung server. */
const hang: Handler = (init) =>
	new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason)));

describe("Stage0 client: the request", () => {
	it("POSTs the body to /check with the key, JSON and a fresh request id", async () => {
		const { calls, client: c } = client(() => allow());
		await c.check(request);
		await c.check(request);
		expect(calls[0].url).toBe("https://stage0.test/check");
		const headers = calls[0].init.headers as Record<string, string>;
		expect(headers["x-api-key"]).toBe(KEY);
		expect(headers["content-type"]).toBe("application/json");
		expect(JSON.parse(String(calls[0].init.body))).toEqual(request);
		const id1 = headers["x-request-id"];
		const id2 = (calls[1].init.headers as Record<string, string>)["x-request-id"];
		expect(id1).toMatch(/^[0-9a-f-]{36}$/);
		expect(id2).not.toBe(id1);
	});

	it("maps a full answer, keeping the ids for audit", async () => {
		const { client: c } = client(() =>
			Response.json({
				verdict: "DEFER",
				decision: "DEFER",
				reason: "",
				request_id: "r-9",
				policy_pack_version: "pack-3",
				risk_score: 40,
				high_risk: false,
				issues: [{ code: "UNCLEAR_VALUE_SIGNAL", severity: "MEDIUM", message: "vague" }],
				clarifying_questions: ["What outcome?"],
				defer_questions: ["Who approves?"],
				guardrails: ["read_only"],
				something_new: { kept: true },
			}),
		);
		const d = await c.check(request);
		expect(d).toMatchObject({
			verdict: "DEFER",
			decision: "DEFER",
			request_id: "r-9",
			policy_version: "pack-3",
			risk_score: 40,
			questions: ["What outcome?", "Who approves?"],
			guardrails: ["read_only"],
			source: "stage0",
		});
		// an empty reason is built from the issues
		expect(d.reason).toContain("UNCLEAR_VALUE_SIGNAL");
	});
});

describe("Stage0 client: fails closed", () => {
	const cases: [string, Handler, RegExp][] = [
		["HTTP 401", () => Response.json({ detail: "bad key" }, { status: 401 }), /rejected the API key/],
		["HTTP 402", () => Response.json({ detail: "pro feature" }, { status: 402 }), /plan does not allow.*pro feature/],
		["HTTP 429", () => Response.json({ retry_after_seconds: 17 }, { status: 429 }), /rate limited.*17 seconds/],
		["HTTP 429 with Retry-After", () => new Response("{}", { status: 429, headers: { "retry-after": "9" } }), /retry after 9 seconds/],
		["HTTP 400", () => Response.json({ message: "goal too long" }, { status: 400 }), /HTTP 400.*goal too long/],
		["a body that is not JSON", () => new Response("<html>oops</html>", { status: 200 }), /not JSON/],
		["a missing verdict", () => Response.json({ decision: "GO", request_id: "r" }), /no verdict/],
		["an unknown verdict", () => Response.json({ verdict: "MAYBE", request_id: "r" }), /unknown verdict "MAYBE"/],
		["a lower-case verdict", () => Response.json({ verdict: "allow", request_id: "r" }), /unknown verdict/],
		["a JSON array", () => Response.json([{ verdict: "ALLOW" }]), /no verdict/],
		["ALLOW with decision NO_GO", () => allow({ decision: "NO_GO" }), /contradicts itself/],
		["ALLOW without request_id", () => allow({ request_id: undefined }), /no request_id/],
	];
	it.each(cases)("on %s", async (_name, handler, reason) => {
		const { client: c } = client(handler);
		const d = await c.check(request);
		expect(d.verdict).not.toBe("ALLOW");
		expect(d.decision).toBe("ERROR");
		expect(d.source).toBe("fault");
		expect(d.reason).toMatch(reason);
	});

	it("on a network error, retried once, then a clear reason", async () => {
		const { calls, client: c } = client(() => {
			throw new TypeError(`connect ECONNREFUSED with key ${KEY}`);
		});
		const d = await c.check(request);
		expect(calls).toHaveLength(2);
		expect(d).toMatchObject({ verdict: "DENY", decision: "ERROR" });
		expect(d.reason).toBe("Stage0 could not be reached (network error).");
	});

	it("retries a 503 once and takes the second answer", async () => {
		const { calls, client: c } = client((_i, n) => (n === 1 ? new Response("busy", { status: 503 }) : allow()));
		const d = await c.check(request);
		expect(calls).toHaveLength(2);
		expect(d.verdict).toBe("ALLOW");
		// the retry is the same decision: same request id
		expect((calls[0].init.headers as Record<string, string>)["x-request-id"]).toBe(
			(calls[1].init.headers as Record<string, string>)["x-request-id"],
		);
	});

	it("gives up after two 5xx answers", async () => {
		const { calls, client: c } = client(() => new Response("{}", { status: 502 }));
		const d = await c.check(request);
		expect(calls).toHaveLength(2);
		expect(d.reason).toMatch(/unavailable \(HTTP 502\)/);
	});

	it("does not retry a 401, 402 or 429", async () => {
		for (const status of [401, 402, 429]) {
			const { calls, client: c } = client(() => new Response("{}", { status }));
			await c.check(request);
			expect(calls).toHaveLength(1);
		}
	});

	it("aborts a hung call at the timeout and says so", async () => {
		const { client: c } = client(hang, 80);
		const started = Date.now();
		const d = await c.check(request);
		const elapsed = Date.now() - started;
		expect(d.decision).toBe("ERROR");
		expect(d.reason).toBe("Stage0 did not answer within 80 ms (STAGE0_TIMEOUT_MS).");
		expect(elapsed).toBeLessThan(1000);
	});

	it("never retries past the budget: a slow 5xx leaves no time for a second try", async () => {
		const { calls, client: c } = client(async () => {
			await new Promise((r) => setTimeout(r, 120));
			return new Response("{}", { status: 503 });
		}, 300);
		const d = await c.check(request);
		expect(calls).toHaveLength(1);
		expect(d.decision).toBe("ERROR");
	});

	it("never puts the API key in a reason, even when Stage0 echoes it", async () => {
		const echo: Handler[] = [
			() => Response.json({ message: `key ${KEY} is unknown` }, { status: 403 }),
			() => Response.json({ detail: `plan of ${KEY}` }, { status: 402 }),
			() => Response.json({ verdict: KEY, request_id: "r" }),
		];
		for (const handler of echo) {
			const d = await client(handler).client.check(request);
			expect(JSON.stringify(d)).not.toContain(KEY);
			expect(JSON.stringify(d)).not.toContain("SECRET");
		}
	});

	it("refuses to send a body over 1 MB", async () => {
		const { calls, client: c } = client(() => allow());
		const d = await c.check({ ...request, goal: "x".repeat(MAX_CHECK_BODY_BYTES) });
		expect(calls).toHaveLength(0);
		expect(d.decision).toBe("ERROR");
		expect(d.reason).toMatch(/larger than/);
	});
});

describe("Stage0 client: the deadline holds", () => {
	it("even when the fetch ignores its abort signal", async () => {
		const { client: c } = client(() => new Promise<Response>(() => {}), 60);
		const d = await c.check(request);
		expect(d.reason).toBe("Stage0 did not answer within 60 ms (STAGE0_TIMEOUT_MS).");
	});

	it("even when the answer's body stalls after the headers", async () => {
		const { client: c } = client(
			() => new Response(new ReadableStream({ start(ctl) { ctl.enqueue(new TextEncoder().encode('{"verdict":')); } })),
			60,
		);
		const d = await c.check(request);
		expect(d.decision).toBe("ERROR");
		expect(d.reason).toMatch(/did not answer within 60 ms/);
	});
});
