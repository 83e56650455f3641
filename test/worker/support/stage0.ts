/**
 * Stage0 inside workerd, mocked at fetch: the one mock of the Worker tests'
 * Stage0 (STAGE0_BASE_URL of the Stage0 projects, see vitest.config.ts).
 * Every other URL goes to the real fetch. A body is read once, also inside a
 * Durable Object, so `answer` makes a fresh Response for every call.
 * Undone by vi.restoreAllMocks(), which `loopbackClient()` runs after each test.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, afterEach, beforeAll, vi } from "vitest";
import type { CheckRequest } from "../../../src/guard/decision";
import type { Verdict } from "../../../src/guard/enums";
import { STAGE0_TEST } from "../../support/worker-env";
import { connect } from "./mcp";

/** The Stage0 projects' API key: it goes to STAGE0_BASE_URL and nowhere else. */
export const STAGE0_KEY = STAGE0_TEST.STAGE0_API_KEY;

/**
 * A test file's MCP session as the loopback caller: opened before its tests, closed after them; every mock
 * (Stage0's included) is undone after each test. Read `.client` inside a test.
 */
export function loopbackClient(): { readonly client: Client } {
	let client: Client | undefined;
	beforeAll(async () => {
		client = await connect();
	});
	afterAll(async () => {
		await client?.close();
	});
	afterEach(() => {
		vi.restoreAllMocks();
	});
	return {
		get client() {
			if (!client) throw new Error("no MCP session: read .client inside a test");
			return client;
		},
	};
}

/** What the Worker sent to Stage0. */
export interface SentCheck {
	url: string;
	headers: Headers;
	body: CheckRequest;
}

/** Answers POST <STAGE0_BASE_URL>/check with `answer(body, n)` (n counts from 1); returns what Stage0 was sent, as it is sent. */
export function mockStage0(answer: (body: CheckRequest, n: number) => Response | Promise<Response>): SentCheck[] {
	const sent: SentCheck[] = [];
	const real = globalThis.fetch;
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const request = new Request(input as RequestInfo, init);
		if (!request.url.startsWith(`${STAGE0_TEST.STAGE0_BASE_URL}/`)) return real(input as RequestInfo, init);
		const body = await request.json<CheckRequest>();
		sent.push({ url: request.url, headers: request.headers, body });
		return answer(body, sent.length);
	});
	return sent;
}

/** Stage0's documented 200 answer with this verdict; `fields` add to it or replace its parts. */
export function stage0Answer(verdict: Verdict, fields: Record<string, unknown> = {}): Response {
	return Response.json({
		verdict,
		decision: verdict === "ALLOW" ? "GO" : verdict === "DENY" ? "NO_GO" : "DEFER",
		reason: `stage0 said ${verdict}`,
		request_id: crypto.randomUUID(),
		policy_version: "acme-policy-2026.11",
		risk_score: 20,
		high_risk: false,
		issues: [],
		...fields,
	});
}
