/**
 * The Stage0 client: one POST /check per decision, inside one time budget.
 *
 * Fail closed: every way this can go wrong (network, timeout, HTTP error, a body
 * that is not JSON, a verdict that is missing or unknown, an ALLOW that
 * contradicts itself) becomes a DENY with decision ERROR and a reason a person
 * can act on. The API key is sent as `x-api-key` and never appears in a reason:
 * Stage0's own error text is redacted before it is shown.
 */
import {
	type Authority,
	type CheckRequest,
	type Decision,
	faultDecision,
	type Stage0Answer,
	Stage0AnswerSchema,
} from "./decision";

export const MAX_CHECK_BODY_BYTES = 1_000_000;
/** A retry is worth trying only if at least this much of the budget is left. */
const MIN_RETRY_BUDGET_MS = 250;

export interface Stage0ClientOptions {
	apiKey: string;
	baseUrl: string;
	timeoutMs: number;
	fetch?: typeof fetch;
	newRequestId?: () => string;
}

type Attempt =
	| { kind: "answer"; answer: Stage0Answer }
	| { kind: "failure"; reason: string; transient: boolean; stage0RequestId?: string };

export class Stage0Client implements Authority {
	readonly mode = "stage0" as const;
	readonly #apiKey: string;
	readonly #url: string;
	readonly #timeoutMs: number;
	readonly #fetch: typeof fetch;
	readonly #newRequestId: () => string;

	constructor(options: Stage0ClientOptions) {
		this.#apiKey = options.apiKey;
		this.#url = `${options.baseUrl}/check`;
		this.#timeoutMs = options.timeoutMs;
		// Resolve fetch at call time by default so test spies on globalThis apply.
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#newRequestId = options.newRequestId ?? (() => crypto.randomUUID());
	}

	async check(request: CheckRequest): Promise<Decision> {
		const requestId = this.#newRequestId();
		const started = Date.now();
		const deadline = started + this.#timeoutMs;
		const body = JSON.stringify(request);
		if (new TextEncoder().encode(body).byteLength > MAX_CHECK_BODY_BYTES) {
			return faultDecision(
				`The authorization request is larger than ${MAX_CHECK_BODY_BYTES} bytes, so it was not sent to Stage0.`,
				requestId,
				0,
			);
		}

		let last: Extract<Attempt, { kind: "failure" }> | undefined;
		for (let attempt = 1; attempt <= 2; attempt++) {
			const remaining = deadline - Date.now();
			if (attempt > 1 && remaining < MIN_RETRY_BUDGET_MS) break;
			const outcome = await this.#attempt(body, requestId, remaining);
			if (outcome.kind === "answer") {
				return toDecision(outcome.answer, requestId, Date.now() - started);
			}
			last = outcome;
			if (!outcome.transient) break;
		}
		return faultDecision(last!.reason, last!.stage0RequestId ?? requestId, Date.now() - started);
	}

	async #attempt(body: string, requestId: string, budgetMs: number): Promise<Attempt> {
		const signal = AbortSignal.timeout(Math.max(1, budgetMs));
		let response: Response;
		let text: string;
		// The signal aborts the fetch; the race makes the deadline hold even if
		// something below ignores the signal.
		const deadline = new Promise<never>((_, reject) => {
			signal.addEventListener("abort", () => reject(signal.reason), { once: true });
		});
		deadline.catch(() => {}); // it fires after a successful answer too

		try {
			[response, text] = await Promise.race([
				(async () => {
					const r = await this.#fetch(this.#url, {
						method: "POST",
						headers: {
							"content-type": "application/json",
							accept: "application/json",
							"x-api-key": this.#apiKey,
							"x-request-id": requestId,
						},
						body,
						signal,
					});
					return [r, await r.text()] as const;
				})(),
				deadline,
			]);
		} catch (error) {
			if (signal.aborted) {
				return {
					kind: "failure",
					reason: `Stage0 did not answer within ${this.#timeoutMs} ms (STAGE0_TIMEOUT_MS).`,
					transient: false,
				};
			}
			// The error text of a failed fetch is not shown: it is not useful to
			// the caller and could carry details of the deployment.
			void error;
			return { kind: "failure", reason: "Stage0 could not be reached (network error).", transient: true };
		}

		let json: unknown;
		try {
			json = JSON.parse(text);
		} catch {
			json = undefined;
		}
		const stage0RequestId = readString(json, "request_id");

		if (!response.ok) {
			return { kind: "failure", ...this.#httpFailure(response, json), stage0RequestId };
		}
		if (json === undefined) {
			return { kind: "failure", reason: "Stage0 answered with a body that is not JSON.", transient: false };
		}
		const parsed = Stage0AnswerSchema.safeParse(json);
		if (!parsed.success) {
			const verdict = readField(json, "verdict");
			const reason =
				verdict === undefined
					? "Stage0's answer had no verdict."
					: `Stage0 answered with an unknown verdict ${this.#redact(JSON.stringify(verdict)).slice(0, 40)} (expected ALLOW, DENY or DEFER).`;
			return { kind: "failure", reason, transient: false, stage0RequestId };
		}
		const answer = parsed.data;
		if (answer.verdict === "ALLOW") {
			// An ALLOW must be unambiguous and auditable, or it is not an ALLOW.
			if (answer.decision !== undefined && answer.decision !== "GO") {
				return {
					kind: "failure",
					reason: `Stage0's answer contradicts itself (verdict ALLOW with decision ${answer.decision}).`,
					transient: false,
					stage0RequestId,
				};
			}
			if (!answer.request_id) {
				return { kind: "failure", reason: "Stage0's ALLOW carried no request_id, so it cannot be audited.", transient: false };
			}
		}
		return { kind: "answer", answer };
	}

	#httpFailure(response: Response, json: unknown): { reason: string; transient: boolean } {
		const status = response.status;
		const detail = this.#detail(json);
		switch (true) {
			case status === 401:
				return { reason: "Stage0 rejected the API key (HTTP 401). Check STAGE0_API_KEY.", transient: false };
			case status === 402:
				return {
					reason: `Stage0 refused: your Stage0 plan does not allow this check (HTTP 402)${detail ? `: ${detail}` : "."}`,
					transient: false,
				};
			case status === 429: {
				const seconds = retryAfterSeconds(response, json);
				return {
					reason: `Stage0 rate limited this server (HTTP 429)${seconds !== undefined ? `; retry after ${seconds} seconds.` : "."}`,
					transient: false,
				};
			}
			case status >= 500:
				return { reason: `Stage0 is unavailable (HTTP ${status})${detail ? `: ${detail}` : "."}`, transient: true };
			default:
				return { reason: `Stage0 refused the request (HTTP ${status})${detail ? `: ${detail}` : "."}`, transient: false };
		}
	}

	/** Stage0's own error text, shortened and with the API key removed. */
	#detail(json: unknown): string | undefined {
		const raw = readString(json, "message") ?? readString(json, "error") ?? readString(json, "detail");
		return raw ? this.#redact(raw).slice(0, 200) : undefined;
	}

	#redact(text: string): string {
		return this.#apiKey ? text.split(this.#apiKey).join("[redacted]") : text;
	}
}

function toDecision(answer: Stage0Answer, sentRequestId: string, latencyMs: number): Decision {
	const issues = answer.issues ?? [];
	const reason =
		answer.reason?.trim() ||
		(issues.length > 0 ? issues.map((i) => `${i.severity} severity: ${i.code} - ${i.message}`).join("; ") : "") ||
		answer.decision_trace_summary?.trim() ||
		`Stage0 answered ${answer.verdict} without a reason.`;
	return {
		verdict: answer.verdict,
		decision: answer.decision ?? defaultPosture(answer.verdict),
		reason,
		request_id: answer.request_id ?? sentRequestId,
		policy_version: answer.policy_version ?? answer.policy_pack_version ?? "unspecified",
		risk_score: answer.risk_score ?? null,
		high_risk: answer.high_risk ?? false,
		issues,
		questions: [...(answer.clarifying_questions ?? []), ...(answer.defer_questions ?? [])],
		guardrails: answer.guardrails ?? [],
		source: "stage0",
		latency_ms: latencyMs,
	};
}

function defaultPosture(verdict: Decision["verdict"]): Decision["decision"] {
	return verdict === "ALLOW" ? "GO" : verdict === "DENY" ? "NO_GO" : "DEFER";
}

function readField(json: unknown, key: string): unknown {
	return json && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>)[key] : undefined;
}

function readString(json: unknown, key: string): string | undefined {
	const value = readField(json, key);
	return typeof value === "string" && value.length > 0 ? value : undefined;
}

function retryAfterSeconds(response: Response, json: unknown): number | undefined {
	const fromBody = readField(json, "retry_after_seconds");
	if (typeof fromBody === "number" && Number.isFinite(fromBody) && fromBody >= 0) return Math.ceil(fromBody);
	const header = response.headers.get("retry-after");
	if (header && /^\d+$/.test(header.trim())) return Number(header.trim());
	return undefined;
}
