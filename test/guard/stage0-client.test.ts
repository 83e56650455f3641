import { describe, expect, it } from "vitest";
import type { CheckRequest } from "../../src/guard/decision";
import { readConfig } from "../../src/config";
import { MAX_ANSWER_BYTES, MAX_CHECK_BODY_BYTES, Stage0Client } from "../../src/guard/stage0-client";

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
const hang: Handler = (init) => new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason)));

describe("Stage0 client: the request", () => {
	it("POSTs the body to /check with the key, JSON and a fresh request id", async () => {
		const { calls, client: c } = client(() => allow());
		await c.check(request);
		await c.check(request);
		expect(calls[0].url).toBe("https://stage0.test/check");
		const headers = calls[0].init.headers as Record<string, string>;
		expect(headers["x-api-key"]).toBe(KEY);
		expect(headers["content-type"]).toBe("application/json");
		expect(JSON.parse(calls[0].init.body as string)).toEqual(request);
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
			() =>
				new Response(
					new ReadableStream({
						start(ctl) {
							ctl.enqueue(new TextEncoder().encode('{"verdict":'));
						},
					}),
				),
			60,
		);
		const d = await c.check(request);
		expect(d.decision).toBe("ERROR");
		expect(d.reason).toMatch(/did not answer within 60 ms/);
	});
});

/**
 * A fetch that handles redirects the way the runtime does: it follows them
 * unless told `redirect: "manual"` (302/303 become a GET without a body, 307/308
 * repeat the POST), sending the same headers on. `answer(url)` plays every host.
 */
function followingClient(answer: (url: string) => Response, baseUrl = "https://stage0.test") {
	const sent: { url: string; method: string; apiKey: string | null }[] = [];
	const fetchImpl = (async (input: string, init: RequestInit) => {
		let url = input;
		let method = init.method ?? "GET";
		for (let hop = 0; hop < 5; hop++) {
			sent.push({ url, method, apiKey: new Headers(init.headers).get("x-api-key") });
			const response = answer(url);
			const location = response.headers.get("location");
			if (response.status < 300 || response.status > 399 || !location || init.redirect === "manual") return response;
			if (init.redirect === "error") throw new TypeError("redirect refused");
			url = new URL(location, url).toString();
			if (response.status === 302 || response.status === 303) method = "GET";
		}
		throw new TypeError("too many redirects");
	}) as unknown as typeof fetch;
	return { sent, client: new Stage0Client({ apiKey: KEY, baseUrl, timeoutMs: 1000, fetch: fetchImpl }) };
}

const redirectTo = (status: number, location: string) => () => new Response(null, { status, headers: { location } });

describe("Stage0 client: never follows a redirect", () => {
	for (const status of [301, 302, 303, 307, 308]) {
		it(`an HTTP ${status} to another host is a fault, and the key goes nowhere else`, async () => {
			const { sent, client: c } = followingClient((url) =>
				url.startsWith("https://evil.test/")
					? allow({ request_id: "evil-1", reason: "the attacker's ALLOW" })
					: redirectTo(status, "https://evil.test/check")(),
			);
			const d = await c.check(request);
			expect(d).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
			expect(d.reason).toBe(`Stage0 answered with a redirect (HTTP ${status}); the check was not sent on.`);
			expect(sent.map((s) => s.url)).toEqual(["https://stage0.test/check"]); // not retried, not followed
		});
	}

	it("asks the runtime not to follow (redirect: manual)", async () => {
		const { calls, client: c } = client(() => allow());
		await c.check(request);
		expect(calls[0].init.redirect).toBe("manual");
	});

	it("an opaque-redirect response (status 0) is a fault too", async () => {
		const opaque = new Response(null, { status: 200 });
		Object.defineProperty(opaque, "type", { value: "opaqueredirect" });
		Object.defineProperty(opaque, "status", { value: 0 });
		Object.defineProperty(opaque, "ok", { value: false });
		const { calls, client: c } = client(() => opaque);
		const d = await c.check(request);
		expect(d.decision).toBe("ERROR");
		expect(d.reason).toBe("Stage0 answered with a redirect; the check was not sent on.");
		expect(calls).toHaveLength(1);
	});
});

describe("Stage0 client: STAGE0_BASE_URL is checked before any key is sent", () => {
	it.each([
		["plain http to a remote host", "http://stage0.example.com", /must use https/],
		["not a URL", "api.signalpulse.org", /not a valid URL/],
		["credentials in the URL", "https://user:pw@stage0.test", /must not carry a user name or password/],
		["a query string", "https://stage0.test/?next=https://evil.test", /must not carry a query or fragment/],
		["another scheme", "ftp://stage0.test", /must use https/],
	])("refuses %s, for every call, with a clear reason", async (_name, baseUrl, problem) => {
		const { sent, client: c } = followingClient(() => allow(), baseUrl);
		for (let i = 0; i < 2; i++) {
			const d = await c.check(request);
			expect(d).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
			expect(d.reason).toMatch(/^STAGE0_BASE_URL is not usable: /);
			expect(d.reason).toMatch(problem);
		}
		expect(sent).toHaveLength(0);
	});

	it.each(["http://127.0.0.1:8788", "http://localhost:9000/base", "http://[::1]:7000", "https://stage0.test/v1/"])(
		"accepts %s",
		async (baseUrl) => {
			const { sent, client: c } = followingClient(() => allow(), baseUrl);
			expect((await c.check(request)).verdict).toBe("ALLOW");
			expect(sent[0].url).toBe(`${baseUrl.replace(/\/+$/, "")}/check`);
		},
	);
});

describe("Stage0 client: the answer's size is capped", () => {
	it("a 60 MB ALLOW is not obeyed, and reading stops past the cap", async () => {
		let pulled = 0;
		const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
		const body = new ReadableStream<Uint8Array>({
			start(ctl) {
				ctl.enqueue(new TextEncoder().encode('{"verdict":"ALLOW","decision":"GO","request_id":"r-big","padding":"'));
			},
			pull(ctl) {
				pulled += chunk.byteLength;
				if (pulled > 60 * 1024 * 1024) {
					ctl.enqueue(new TextEncoder().encode('"}'));
					ctl.close();
				} else ctl.enqueue(chunk);
			},
		});
		const { client: c } = client(() => new Response(body, { status: 200 }), 5000);
		const d = await c.check(request);
		expect(d).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
		expect(d.reason).toBe(`Stage0's answer was larger than 1 MB, so it was not used.`);
		expect(pulled).toBeLessThan(MAX_ANSWER_BYTES + 256 * 1024);
	});

	it("an answer announcing a Content-Length over the cap is refused unread", async () => {
		const { client: c } = client(
			() =>
				new Response(JSON.stringify({ verdict: "ALLOW", request_id: "r" }), {
					headers: { "content-length": String(MAX_ANSWER_BYTES + 1) },
				}),
		);
		const d = await c.check(request);
		expect(d.reason).toBe(`Stage0's answer was larger than 1 MB, so it was not used.`);
	});

	it("an answer just under the cap is used", async () => {
		const base = JSON.stringify({ verdict: "ALLOW", decision: "GO", request_id: "r-ok", padding: "" });
		const padded = JSON.stringify({
			verdict: "ALLOW",
			decision: "GO",
			request_id: "r-ok",
			padding: "x".repeat(MAX_ANSWER_BYTES - base.length),
		});
		expect(padded.length).toBe(MAX_ANSWER_BYTES);
		const { client: c } = client(() => new Response(padded, { status: 200 }), 5000);
		expect((await c.check(request)).verdict).toBe("ALLOW");
	});
});

describe("Stage0 client: the key never leaves in a 200 answer", () => {
	const echoes = [KEY, KEY.toUpperCase(), KEY.toLowerCase()];
	it.each(echoes)("redacts %s wherever Stage0's answer puts it", async (echo) => {
		const { client: c } = client(() =>
			Response.json({
				verdict: "DEFER",
				decision: "DEFER",
				reason: `your key ${echo} is fine`,
				request_id: `req-${echo}`,
				policy_version: `v-${echo}`,
				issues: [{ code: `C-${echo}`, severity: `S-${echo}`, message: `m ${echo}` }],
				clarifying_questions: [`q ${echo}?`],
				defer_questions: [`d ${echo}?`],
				guardrails: [`g-${echo}`],
			}),
		);
		const d = await c.check(request);
		expect(d.verdict).toBe("DEFER");
		const text = JSON.stringify(d).toLowerCase();
		expect(text).not.toContain(KEY.toLowerCase());
		expect(d.reason).toBe("your key [redacted] is fine");
		expect(d.policy_version).toBe("v-[redacted]");
		expect(d.request_id).toBe("req-[redacted]");
	});

	it("redacts the key written with JSON escapes, and in the trace summary used as a reason", async () => {
		const escaped = Array.from(KEY)
			.map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)
			.join("");
		const { client: c } = client(
			() => new Response(`{"verdict":"DENY","request_id":"r","decision_trace_summary":"trace ${escaped} end"}`, { status: 200 }),
		);
		const d = await c.check(request);
		expect(d.reason).toBe("trace [redacted] end");
	});

	it("redacts the key in a fault's Stage0 request id", async () => {
		const { client: c } = client(() => Response.json({ request_id: `id-${KEY}`, message: "no" }, { status: 400 }));
		const d = await c.check(request);
		expect(JSON.stringify(d)).not.toContain(KEY);
	});
});

describe("configuration: STAGE0_BASE_URL", () => {
	it("is checked when the configuration is read, so the start-up log can say what is wrong", () => {
		expect(readConfig({ STAGE0_API_KEY: KEY, STAGE0_BASE_URL: "http://stage0.example.com" }).baseUrlProblem).toMatch(/must use https/);
		expect(readConfig({ STAGE0_API_KEY: KEY, STAGE0_BASE_URL: "https://stage0.example.com/" })).toMatchObject({
			baseUrl: "https://stage0.example.com",
			baseUrlProblem: undefined,
		});
		expect(readConfig({ STAGE0_API_KEY: KEY }).baseUrlProblem).toBeUndefined();
	});
});
