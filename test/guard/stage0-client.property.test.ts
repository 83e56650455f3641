/**
 * Property: whatever Stage0 (or something in its place) answers (any body,
 * status, headers, size, a redirect), the client returns ALLOW only for a
 * valid ALLOW: HTTP 200, no redirect, within the size cap, a JSON object whose
 * verdict is ALLOW, whose decision is GO or absent, with a request_id.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ANSWER_BYTES, Stage0Client } from "../../src/guard/stage0-client";
import { PUBLISH_CHECK } from "../support/check-request";

/** Values that are almost, or exactly, what a field expects, plus anything at all. */
const fieldValue = <T>(...near: T[]) => fc.oneof(fc.constantFrom(...near), fc.jsonValue(), fc.string());

const answerLike = fc
	.record(
		{
			verdict: fieldValue("ALLOW", "DENY", "DEFER", "allow", "ALLOW ", "GO"),
			decision: fieldValue("GO", "NO_GO", "DEFER", "ERROR", "go", null),
			request_id: fieldValue("req-1", "", " ", null),
			reason: fieldValue("fine", ""),
			policy_version: fieldValue("p-1"),
			risk_score: fieldValue(0, 100, 101, -1, Number.NaN),
			issues: fieldValue([], [{ code: "X", severity: "HIGH", message: "m" }], [{}]),
			guardrails: fieldValue([], ["read_only"]),
		},
		{ requiredKeys: [] },
	)
	.map((o) => JSON.stringify(o));

/** An ALLOW body that is valid or one field away from it, so that every dimension gets to decide. */
const nearlyValidAllow = fc
	.record({
		decision: fc.constantFrom(undefined, "GO", "GO", "NO_GO", "DEFER", "ERROR"),
		request_id: fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom("", undefined, null)),
		extra: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
	})
	.map(({ decision, request_id, extra }) => JSON.stringify({ ...extra, verdict: "ALLOW", decision, request_id }));

const body = fc.oneof(
	{ weight: 6, arbitrary: nearlyValidAllow },
	{ weight: 6, arbitrary: answerLike },
	{ weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
	{ weight: 2, arbitrary: fc.string() },
	// a valid ALLOW wrapped in something that is not it
	{
		weight: 1,
		arbitrary: fc.constantFrom('[{"verdict":"ALLOW","request_id":"r"}]', '"ALLOW"', '{"answer":{"verdict":"ALLOW","request_id":"r"}}'),
	},
);

const statusCode = fc.oneof(
	{ weight: 6, arbitrary: fc.constant(200) },
	{ weight: 4, arbitrary: fc.integer({ min: 200, max: 599 }) },
	{ weight: 2, arbitrary: fc.constantFrom(201, 202, 206, 301, 302, 303, 307, 308, 401, 402, 429, 503) },
);

const scenario = fc.record({
	body,
	status: statusCode,
	/** Pad the body (with whitespace, still valid JSON) past the cap. */
	oversize: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
	/** A Content-Length header: absent, truthful, or a lie either way. */
	contentLength: fc.constantFrom("absent", "true", "small", "huge"),
	location: fc.option(fc.constantFrom("https://evil.test/check", "/check", ""), { nil: undefined }),
	/** What a runtime returns for a redirect it was told not to follow. */
	opaqueRedirect: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function respond(s: Scenario): Response {
	const text = s.oversize ? s.body + " ".repeat(MAX_ANSWER_BYTES) : s.body;
	const bytes = new TextEncoder().encode(text).byteLength;
	const headers = new Headers();
	if (s.contentLength === "true") headers.set("content-length", String(bytes));
	if (s.contentLength === "small") headers.set("content-length", "2");
	if (s.contentLength === "huge") headers.set("content-length", String(MAX_ANSWER_BYTES + 1));
	if (s.location !== undefined) headers.set("location", s.location);
	const nullBody = [204, 205, 304].includes(s.status);
	const response = new Response(nullBody ? null : text, { status: s.status, headers });
	if (s.opaqueRedirect) {
		Object.defineProperty(response, "type", { value: "opaqueredirect" });
		Object.defineProperty(response, "status", { value: 0 });
		Object.defineProperty(response, "ok", { value: false });
	}
	return response;
}

/** The specification of a valid ALLOW, written independently of the client. */
function isValidAllow(s: Scenario): boolean {
	if (s.opaqueRedirect || s.status !== 200 || s.oversize || s.contentLength === "huge") return false;
	if (new TextEncoder().encode(s.body).byteLength > MAX_ANSWER_BYTES) return false;
	let json: unknown;
	try {
		json = JSON.parse(s.body);
	} catch {
		return false;
	}
	if (!json || typeof json !== "object" || Array.isArray(json)) return false;
	const answer = json as Record<string, unknown>;
	return (
		answer.verdict === "ALLOW" &&
		(answer.decision === undefined || answer.decision === "GO") &&
		typeof answer.request_id === "string" &&
		answer.request_id.length > 0
	);
}

describe("Stage0 client (property)", () => {
	it("never returns ALLOW unless the answer was a valid ALLOW", { timeout: 120_000 }, async () => {
		await fc.assert(
			fc.asyncProperty(scenario, async (s) => {
				const fetchImpl = (async () => respond(s)) as unknown as typeof fetch;
				const client = new Stage0Client({
					apiKey: "sk-prop-0123456789abcdef",
					baseUrl: "https://stage0.test",
					timeoutMs: 2000,
					fetch: fetchImpl,
				});
				const d = await client.check(PUBLISH_CHECK);
				if (d.verdict === "ALLOW") {
					expect(isValidAllow(s)).toBe(true);
					expect(d).toMatchObject({ decision: "GO", source: "stage0" });
					expect(d.request_id).toBe((JSON.parse(s.body) as { request_id: string }).request_id);
				}
				// and every answer that is not an ALLOW is a decision, never an exception
				expect(["ALLOW", "DENY", "DEFER"]).toContain(d.verdict);
			}),
			{ numRuns: 400 },
		);
	});

	it(
		"a valid ALLOW, with anything in the display fields, is never turned into an ALLOW of another request",
		{ timeout: 60_000 },
		async () => {
			await fc.assert(
				fc.asyncProperty(fc.string({ minLength: 1 }), fc.dictionary(fc.string(), fc.jsonValue()), async (requestId, extra) => {
					const answer = { ...extra, verdict: "ALLOW", decision: "GO", request_id: requestId };
					const fetchImpl = (async () => Response.json(answer)) as unknown as typeof fetch;
					const client = new Stage0Client({
						apiKey: "sk-prop-0123456789abcdef",
						baseUrl: "https://stage0.test",
						timeoutMs: 2000,
						fetch: fetchImpl,
					});
					const d = await client.check(PUBLISH_CHECK);
					if (d.verdict === "ALLOW") expect(d.request_id).toBe(requestId);
					else expect(d.decision).toBe("ERROR");
				}),
				{ numRuns: 200 },
			);
		},
	);
});
