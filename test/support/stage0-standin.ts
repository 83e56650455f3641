/**
 * A Stage0 stand-in on loopback, honest to ../shared/stage0-contract.md:
 * POST /check with `x-api-key`, the documented answer fields, and the
 * documented error statuses (401, 402, 429 with retry_after_seconds, 503).
 * The real Stage0 cannot be reached from here; this is for tests, demos and
 * benchmarks only. Verdicts come from the same rules as simulated mode, under
 * its own policy_version, unless a test sets another behaviour.
 *
 * Besides the documented answers it can misbehave the ways a network or a
 * hostile Stage0 could (hang, drop the connection, redirect elsewhere, echo the
 * key, answer beyond 1 MB), and it records every answer it gave, so a test
 * can tell a genuine verdict from anything else that carried a request id.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { CheckRequest } from "../../src/guard/decision";
import type { Verdict } from "../../src/guard/enums";
import { simulateDecision } from "../../src/guard/simulated-authority";

export const STANDIN_POLICY_VERSION = "standin-policy-v2.3.1";
const MAX_BODY = 1_000_000;

export type Behaviour =
	| { kind: "policy" } // the simulator's rules, answered as Stage0 would
	| { kind: "verdict"; verdict: Verdict }
	| { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
	| { kind: "raw"; status: number; body: string } // e.g. not JSON, or a JSON with an odd verdict
	| { kind: "hang" } // never answers
	| { kind: "drop" } // closes the connection without an answer
	| { kind: "redirect"; status: 301 | 302 | 303 | 307 | 308; location: string } // not in the contract: a hostile or misconfigured Stage0
	| { kind: "echo-key"; verdict: Verdict } // a valid answer whose reason and issues quote the caller's API key
	| { kind: "oversized"; verdict: Verdict; bytes: number }; // a valid answer padded past `bytes`

/** What the stand-in answered, by the request_id it put in the answer. */
export interface GivenAnswer {
	kind: Behaviour["kind"];
	/** The verdict of a well-formed answer, else null. */
	verdict: Verdict | null;
	/** A well-formed answer of the documented kind, within size: a decision Stage0 really made. */
	genuine: boolean;
}

export interface ReceivedCheck {
	headers: Record<string, string | string[] | undefined>;
	body: CheckRequest;
}

export interface Stage0StandIn {
	url: string;
	apiKey: string;
	received: ReceivedCheck[];
	/** Every answer that carried a request_id, by that id. */
	answers: Map<string, GivenAnswer>;
	/** Picks the behaviour per request (after any queued ones); undefined returns to `setBehaviour`'s. */
	setChooser(choose: ((body: CheckRequest) => Behaviour) | undefined): void;
	/** Answer with this behaviour from now on (or for the next `times` calls). */
	setBehaviour(behaviour: Behaviour, times?: number): void;
	/** Adds a fixed delay to every answer, like a real round trip. */
	setDelay(ms: number): void;
	close(): Promise<void>;
}

export async function startStage0StandIn(options: { apiKey?: string; port?: number; delayMs?: number } = {}): Promise<Stage0StandIn> {
	const apiKey = options.apiKey ?? "standin-test-key";
	const received: ReceivedCheck[] = [];
	const answers = new Map<string, GivenAnswer>();
	let chooser: ((body: CheckRequest) => Behaviour) | undefined;
	let behaviour: Behaviour = { kind: "policy" };
	const queue: Behaviour[] = [];
	let delayMs = options.delayMs ?? 0;

	const server: Server = createServer(async (req, res) => {
		const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
			const text = typeof body === "string" ? body : JSON.stringify(body);
			res.writeHead(status, { "content-type": "application/json", ...headers });
			res.end(text);
		};
		if (req.method !== "POST" || req.url !== "/check") return send(404, { error: "not found" });
		const raw = await readBody(req);
		if (raw === null) return send(413, { message: "request body over 1 MB" });
		const requestId = crypto.randomUUID();
		if (req.headers["x-api-key"] !== apiKey) return send(401, { detail: "Invalid API key", request_id: requestId });
		let body: CheckRequest;
		try {
			body = JSON.parse(raw);
		} catch {
			return send(400, { message: "body is not JSON" });
		}
		const shapeError = checkShape(body);
		if (shapeError) return send(422, { detail: shapeError });
		received.push({ headers: req.headers, body });

		const current = queue.shift() ?? chooser?.(body) ?? behaviour;
		if (current.kind === "hang") return; // the client's timeout must end it
		if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
		const given = (verdict: GivenAnswer["verdict"], genuine: boolean, id = requestId) =>
			answers.set(id, { kind: current.kind, verdict, genuine });
		switch (current.kind) {
			case "drop":
				return req.socket.destroy();
			case "redirect":
				res.writeHead(current.status, { location: current.location, "content-type": "application/json" });
				return res.end(JSON.stringify({ message: "moved" }));
			case "status": {
				const payload = current.body ?? { message: `status ${current.status}` };
				const id = readRequestId(payload);
				if (id) given(null, false, id);
				return send(current.status, payload, current.headers);
			}
			case "raw": {
				const id = readRequestId(current.body);
				if (id) given(null, false, id);
				res.writeHead(current.status, { "content-type": "application/json" });
				return res.end(current.body);
			}
			case "echo-key": {
				given(current.verdict, true);
				const answer = verdictAnswer(current.verdict, requestId);
				const quoted = `request authenticated with key ${apiKey}`;
				return send(200, {
					...answer,
					reason: `Stand-in answered ${current.verdict}; ${quoted}`,
					issues: [{ code: "UNCLEAR_VALUE_SIGNAL", severity: "LOW", message: quoted }],
				});
			}
			case "oversized": {
				given(current.verdict, false);
				const answer = verdictAnswer(current.verdict, requestId);
				return send(200, { ...answer, decision_trace_summary: "x".repeat(current.bytes) });
			}
			case "verdict": {
				given(current.verdict, true);
				return send(200, verdictAnswer(current.verdict, requestId));
			}
			case "policy": {
				const d = simulateDecision(body, requestId);
				given(d.verdict, true);
				const deferQuestions = d.issues.some((i) => i.code === "LOOP_THRESHOLD_EXCEEDED") ? d.questions : [];
				return send(200, {
					verdict: d.verdict,
					decision: d.decision,
					reason: d.reason,
					request_id: requestId,
					policy_version: STANDIN_POLICY_VERSION,
					risk_score: d.risk_score,
					high_risk: d.high_risk,
					issues: d.issues,
					clarifying_questions: deferQuestions.length ? [] : d.questions,
					defer_questions: deferQuestions,
					guardrails: d.guardrails,
					decision_trace_summary: `${d.verdict} by stand-in policy`,
					cached: false,
					evaluated_at: new Date().toISOString(),
				});
			}
		}
	});
	await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		apiKey,
		received,
		answers,
		setChooser(choose) {
			chooser = choose;
		},
		setBehaviour(b, times) {
			if (times === undefined) behaviour = b;
			else for (let i = 0; i < times; i++) queue.push(b);
		},
		setDelay(ms) {
			delayMs = ms;
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

/** A well-formed answer with this verdict, as the contract documents it. */
function verdictAnswer(verdict: Verdict, requestId: string) {
	const posture = verdict === "ALLOW" ? "GO" : verdict === "DENY" ? "NO_GO" : "DEFER";
	return {
		verdict,
		decision: posture,
		reason: `Stand-in answered ${verdict}`,
		request_id: requestId,
		policy_version: STANDIN_POLICY_VERSION,
		risk_score: verdict === "ALLOW" ? 10 : 70,
		high_risk: verdict !== "ALLOW",
		issues: [],
		clarifying_questions: [],
		defer_questions: verdict === "DEFER" ? ["Who approved this?"] : [],
		guardrails: [],
		cached: false,
		evaluated_at: new Date().toISOString(),
	};
}

function readRequestId(body: unknown): string | undefined {
	let json = body;
	if (typeof body === "string") {
		try {
			json = JSON.parse(body);
		} catch {
			return undefined;
		}
	}
	const id = json && typeof json === "object" ? (json as { request_id?: unknown }).request_id : undefined;
	return typeof id === "string" ? id : undefined;
}

function readBody(req: IncomingMessage): Promise<string | null> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		req.on("data", (c: Buffer) => {
			size += c.length;
			if (size <= MAX_BODY) chunks.push(c);
		});
		req.on("end", () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString("utf8")));
		req.on("error", reject);
	});
}

function checkShape(body: CheckRequest): string | undefined {
	if (typeof body !== "object" || body === null) return "body must be an object";
	if (typeof body.goal !== "string") return "goal must be a string";
	for (const key of ["success_criteria", "constraints", "tools", "side_effects"] as const) {
		if (body[key] !== undefined && !(Array.isArray(body[key]) && body[key].every((s) => typeof s === "string")))
			return `${key} must be a list of strings`;
	}
	if (body.context !== undefined && (typeof body.context !== "object" || Array.isArray(body.context))) return "context must be an object";
	if (body.pro !== undefined && typeof body.pro !== "boolean") return "pro must be a boolean";
	return undefined;
}

// CLI: `tsx test/support/stage0-standin.ts [port]` serves until stopped.
if (import.meta.url === `file://${process.argv[1]}`) {
	const port = Number(process.argv[2] ?? 8788);
	const delay = Number(process.env.STANDIN_DELAY_MS ?? 0);
	const s = await startStage0StandIn({ port, apiKey: process.env.STAGE0_API_KEY, delayMs: delay });
	console.log(`Stage0 stand-in on ${s.url}/check (api key: from STAGE0_API_KEY or the test default)`);
}
