/**
 * The Stage0 client: one POST /check per decision, inside one time budget.
 *
 * Fail closed: every way this can go wrong (network, timeout, HTTP error, a body
 * that is not JSON, a verdict that is missing or unknown, an ALLOW that
 * contradicts itself, a redirect, an answer over 1 MB) becomes a DENY with
 * decision ERROR and a reason a person can act on.
 *
 * The API key is sent as `x-api-key`, only to STAGE0_BASE_URL's origin: the URL
 * is checked before any call, and redirects are never followed (a redirect
 * would carry the key, and the check, to a host that could answer ALLOW). Every
 * string taken from Stage0's answer has the key removed before anyone sees it.
 */
import { readAtMost } from "./bounded-read";
import { type Authority, type CheckRequest, type Decision, faultDecision, type Stage0Answer, Stage0AnswerSchema } from "./decision";
import type { Verdict } from "./enums";
import { err, ok, type Result } from "./result";

export const MAX_CHECK_BODY_BYTES = 1_000_000;
/** Stage0's answer is read up to this size; a larger one is a fault, and reading stops there. */
export const MAX_ANSWER_BYTES = 1_000_000;
/** A retry is worth trying only if at least this much of the budget is left. */
const MIN_RETRY_BUDGET_MS = 250;

export interface Stage0ClientOptions {
	apiKey: string;
	baseUrl: string;
	timeoutMs: number;
	fetch?: typeof fetch;
	newRequestId?: () => string;
}

/**
 * Why a STAGE0_BASE_URL cannot be used, or undefined if it can: https, or
 * plain http only to this machine (a local stand-in), and nothing that could
 * send the key elsewhere or leak it (credentials, a query, a fragment).
 */
export function stage0BaseUrlProblem(raw: string): string | undefined {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return `${JSON.stringify(raw.slice(0, 100))} is not a valid URL (expected e.g. https://api.signalpulse.org)`;
	}
	const loopback = url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
	if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
		return `it must use https (plain http only for localhost, 127.x.x.x or [::1]), not ${url.protocol}//${url.host}`;
	}
	if (url.username || url.password) return "it must not carry a user name or password";
	if (url.search || url.hash || raw.includes("?") || raw.includes("#")) return "it must not carry a query or fragment";
	return undefined;
}

/** Why one attempt got no usable answer, and whether another attempt may get one. */
interface AttemptFailure {
	reason: string;
	transient: boolean;
	stage0RequestId?: string;
}

type Attempt = Result<Stage0Answer, AttemptFailure>;

export class Stage0Client implements Authority {
	readonly mode = "stage0" as const;
	readonly #apiKey: string;
	readonly #url: string;
	/** Set when STAGE0_BASE_URL cannot be used: every check fails closed with it. */
	readonly #configProblem: string | undefined;
	readonly #keyPattern: RegExp | undefined;
	readonly #timeoutMs: number;
	readonly #fetch: typeof fetch;
	readonly #newRequestId: () => string;

	constructor(options: Stage0ClientOptions) {
		this.#apiKey = options.apiKey;
		const problem = stage0BaseUrlProblem(options.baseUrl);
		this.#configProblem = problem && `STAGE0_BASE_URL is not usable: ${problem}. No call is sent to Stage0 until it is fixed.`;
		this.#url = problem ? "" : `${options.baseUrl.replace(/\/+$/, "")}/check`;
		// The key in any letter case; JSON escapes are already decoded when this is applied.
		this.#keyPattern = options.apiKey ? new RegExp(options.apiKey.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi") : undefined;
		this.#timeoutMs = options.timeoutMs;
		// Resolve fetch at call time by default so test spies on globalThis apply.
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#newRequestId = options.newRequestId ?? (() => crypto.randomUUID());
	}

	async check(request: CheckRequest): Promise<Decision> {
		const requestId = this.#newRequestId();
		const started = Date.now();
		const deadline = started + this.#timeoutMs;
		if (this.#configProblem) return faultDecision(this.#configProblem, requestId, 0);
		const body = JSON.stringify(request);
		if (new TextEncoder().encode(body).byteLength > MAX_CHECK_BODY_BYTES) {
			return faultDecision(
				`The authorization request is larger than ${MAX_CHECK_BODY_BYTES} bytes, so it was not sent to Stage0.`,
				requestId,
				0,
			);
		}

		let last: AttemptFailure | undefined;
		for (let attempt = 1; attempt <= 2; attempt++) {
			const remaining = deadline - Date.now();
			if (attempt > 1 && remaining < MIN_RETRY_BUDGET_MS) break;
			const answered = await this.#attempt(body, requestId, remaining);
			if (answered.ok) {
				return toDecision(
					redactAnswer(answered.value, (text) => this.#redact(text)),
					requestId,
					Date.now() - started,
				);
			}
			last = answered.error;
			if (!last.transient) break;
		}
		const stage0RequestId = last!.stage0RequestId && this.#redact(last!.stage0RequestId);
		return faultDecision(last!.reason, stage0RequestId ?? requestId, Date.now() - started);
	}

	async #attempt(body: string, requestId: string, budgetMs: number): Promise<Attempt> {
		const signal = AbortSignal.timeout(Math.max(1, budgetMs));
		let response: Response;
		let text: string | undefined;
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
						// Never follow: a redirect would take the key and the check to another host.
						redirect: "manual",
					});
					return [r, isRedirect(r) ? (r.body?.cancel().catch(() => {}), undefined) : await readCapped(r, MAX_ANSWER_BYTES)] as const;
				})(),
				deadline,
			]);
		} catch (error) {
			if (signal.aborted) {
				return err({ reason: `Stage0 did not answer within ${this.#timeoutMs} ms (STAGE0_TIMEOUT_MS).`, transient: false });
			}
			// The error text of a failed fetch is not shown: it is not useful to
			// the caller and could carry details of the deployment.
			void error;
			return err({ reason: "Stage0 could not be reached (network error).", transient: true });
		}

		if (isRedirect(response)) {
			const status = response.status > 0 ? ` (HTTP ${response.status})` : "";
			return err({ reason: `Stage0 answered with a redirect${status}; the check was not sent on.`, transient: false });
		}
		if (text === undefined) {
			return err({ reason: "Stage0's answer was larger than 1 MB, so it was not used.", transient: false });
		}
		let json: unknown;
		try {
			json = JSON.parse(text);
		} catch {
			json = undefined;
		}
		const stage0RequestId = readString(json, "request_id");

		if (response.status !== 200) {
			return err({ ...this.#httpFailure(response, json), stage0RequestId });
		}
		if (json === undefined) {
			return err({ reason: "Stage0 answered with a body that is not JSON.", transient: false });
		}
		const parsed = Stage0AnswerSchema.safeParse(json);
		if (!parsed.success) {
			const verdict = readField(json, "verdict");
			const reason =
				verdict === undefined
					? "Stage0's answer had no verdict."
					: `Stage0 answered with an unknown verdict ${this.#redact(JSON.stringify(verdict)).slice(0, 40)} (expected ALLOW, DENY or DEFER).`;
			return err({ reason, transient: false, stage0RequestId });
		}
		const answer = parsed.data;
		if (answer.verdict === "ALLOW") {
			// An ALLOW must be unambiguous and auditable, or it is not an ALLOW.
			if (answer.decision !== undefined && answer.decision !== "GO") {
				return err({
					reason: `Stage0's answer contradicts itself (verdict ALLOW with decision ${answer.decision}).`,
					transient: false,
					stage0RequestId,
				});
			}
			if (!answer.request_id) {
				return err({ reason: "Stage0's ALLOW carried no request_id, so it cannot be audited.", transient: false });
			}
		}
		return ok(answer);
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
			case status >= 200 && status < 300:
				return { reason: `Stage0 answered with HTTP ${status} instead of 200, so its answer was not used.`, transient: false };
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
		return this.#keyPattern ? text.replace(this.#keyPattern, "[redacted]") : text;
	}
}

/** A 3xx, or what a runtime returns for a redirect it was told not to follow. */
function isRedirect(response: Response): boolean {
	return (response.type as string) === "opaqueredirect" || (response.status >= 300 && response.status <= 399);
}

/**
 * The body as text, or undefined if it is larger than `cap` bytes: a declared
 * Content-Length over the cap is not read at all, and a stream is read only
 * until it passes the cap.
 */
async function readCapped(response: Response, cap: number): Promise<string | undefined> {
	const declared = Number(response.headers.get("content-length"));
	if (Number.isFinite(declared) && declared > cap) {
		await response.body?.cancel().catch(() => {});
		return undefined;
	}
	if (!response.body) return "";
	const bytes = await readAtMost(response.body, cap);
	return bytes && new TextDecoder().decode(bytes);
}

/** Every string of the answer that can reach a person, a record or a log, passed through `redact`. */
function redactAnswer(answer: Stage0Answer, redact: (text: string) => string): Stage0Answer {
	const r = (text: string | undefined) => (text === undefined ? undefined : redact(text));
	const list = (items: string[] | undefined) => items?.map(redact);
	return {
		...answer,
		reason: r(answer.reason),
		request_id: r(answer.request_id),
		policy_version: r(answer.policy_version),
		policy_pack_version: r(answer.policy_pack_version),
		decision_trace_summary: r(answer.decision_trace_summary),
		issues: answer.issues?.map((i) => ({ code: redact(i.code), severity: redact(i.severity), message: redact(i.message) })),
		clarifying_questions: list(answer.clarifying_questions),
		defer_questions: list(answer.defer_questions),
		guardrails: list(answer.guardrails),
	};
}

function toDecision(answer: Stage0Answer, sentRequestId: string, latencyMs: number): Decision {
	const issues = answer.issues ?? [];
	const reason =
		answer.reason?.trim() ||
		(issues.length > 0 ? issues.map((i) => `${i.severity} severity: ${i.code} - ${i.message}`).join("; ") : "") ||
		answer.decision_trace_summary?.trim() ||
		`Stage0 answered ${answer.verdict} without a reason.`;
	const details = {
		reason,
		request_id: answer.request_id ?? sentRequestId,
		policy_version: answer.policy_version ?? answer.policy_pack_version ?? "unspecified",
		risk_score: answer.risk_score ?? null,
		high_risk: answer.high_risk ?? false,
		issues,
		questions: [...(answer.clarifying_questions ?? []), ...(answer.defer_questions ?? [])],
		guardrails: answer.guardrails ?? [],
		source: "stage0" as const,
		latency_ms: latencyMs,
	};
	// An ALLOW with another posture never gets here (#attempt refuses it): an ALLOW is a GO.
	if (answer.verdict === "ALLOW") return { ...details, verdict: "ALLOW", decision: "GO" };
	return { ...details, verdict: answer.verdict, decision: answer.decision ?? defaultPosture(answer.verdict) };
}

function defaultPosture(verdict: Exclude<Verdict, "ALLOW">): Decision["decision"] {
	return verdict === "DENY" ? "NO_GO" : "DEFER";
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
