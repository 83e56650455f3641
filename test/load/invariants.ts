/**
 * The soak's verdict: each invariant checked against everything observed
 * (client results, raw HTTP answers, the stand-in's own record of its answers,
 * the audit trail, the approvals API, the server's log). Pure: no I/O here.
 */
import { argumentsHash } from "../../src/guard/approvals";
import type { GivenAnswer } from "../support/stage0-standin";
import { normaliseWorkflowId, type Role } from "./workload";
import type { StructuredResult } from "../support/results";

export interface Invariant {
	name: string;
	/** The issue 8 items whose defects make it fail. */
	items: string;
	pass: boolean;
	detail: string;
}

export interface ObservedCall {
	cred: string;
	principal: string;
	/** The role of the credential when the call was made. */
	role: Role;
	tool: string;
	args: Record<string, unknown>;
	at: number;
	outcome: "result" | "protocol-error" | "transport-error";
	protocolRefusal: boolean;
	payloadNonce?: string;
	structured?: StructuredResult;
	text: string;
	via: "sdk" | "raw";
}

export interface RawAnswer {
	label: string;
	cred: string;
	status: number;
	contentType: string;
	body: string;
	/** Access-Control-Allow-Origin of the answer. */
	allowOrigin: string | null;
	/** What the answer must be: refused with this status class, or any JSON non-5xx. */
	expect: "refused" | "forbidden" | "json";
}

export interface AuditRow {
	request_id: string;
	principal: string;
	role: string;
	session_id: string;
	tool: string;
	args_sha256: string;
	verdict: string;
	source: string;
	reason: string;
	outcome: string;
	at: string;
	latency_ms: number;
}

export interface Observations {
	calls: ObservedCall[];
	raw: RawAnswer[];
	clientErrors: string[];
	stage0Answers: Map<string, GivenAnswer>;
	/** Bodies of the /check requests the stand-in received. */
	stage0Checks: { tool: string; body: string }[];
	attacker: { hits: number; gotKey: boolean; allowIds: Set<string> };
	/** How many redirects to the attacker the stand-in answered with. */
	redirectsGiven: number;
	/** Answers that look like an ALLOW but are not a genuine one: the redirect target's, and the oversized ones. */
	allowLikeFaultsGiven: number;
	audit: AuditRow[];
	auditText: string;
	auditComplete: boolean;
	approvals: { pages: string[]; ids: Set<string>; error?: string };
	serverLog: string;
	health: { status: number; body: string };
	secrets: string[];
	pastedSecret: string;
	config: { maxRetries: number; rateLimitPerMinute: number; loopWindowSeconds: number; maxSessionsPerPrincipal: number };
	sessionCap: { tried: number; opened: number };
	junkSessionIds: string[];
	hijackHashes: Set<string>;
	/** Tools listed to credentials after their role changed, with the role they have now. */
	listedAfterRoleChange: { cred: string; role: Role; tools: string[] }[];
}

const SIDE_EFFECT_TOOLS = new Set(["publish-content", "deploy-changes", "managed-deploy", "retry-workflow"]);
/** Admission happens before the authority is asked; this bounds the other steps between it and the audit time. */
const ADMISSION_SLACK_MS = 5000;

export function returnedRequestIds(calls: ObservedCall[]): string[] {
	return calls.map((c) => c.structured?.request_id).filter((id): id is string => typeof id === "string");
}

export function checkInvariants(o: Observations): Invariant[] {
	const out: Invariant[] = [];
	// An invariant with nothing to judge it by has not been shown: it fails, saying so.
	const add = (name: string, items: string, failures: string[], ok: string, evidence: number) => {
		if (evidence === 0) failures = [...failures, `not exercised: ${ok}`];
		out.push({ name, items, pass: failures.length === 0, detail: failures.length ? summarise(failures) : ok });
	};

	// 1. Nothing ran without a genuine ALLOW from Stage0.
	{
		const failures: string[] = [];
		const genuineAllow = (id: unknown) => {
			const a = typeof id === "string" ? o.stage0Answers.get(id) : undefined;
			return a?.verdict === "ALLOW" && a.genuine;
		};
		const executed = o.calls.filter((c) => c.structured?.executed === true);
		for (const c of executed) {
			if (!genuineAllow(c.structured!.request_id))
				failures.push(`${c.tool} by ${c.cred} ran on ${describeAnswer(c.structured!.request_id, o)}`);
		}
		const ranInAudit = o.audit.filter((r) => r.outcome === "executed" || r.outcome === "failed" || r.outcome === "pending");
		for (const r of ranInAudit) {
			if (!genuineAllow(r.request_id))
				failures.push(`audit: ${r.tool} of ${r.principal} ${r.outcome} on ${describeAnswer(r.request_id, o)}`);
		}
		add(
			"nothing executed without a genuine ALLOW from the stand-in",
			"4, 14",
			failures,
			`${executed.length} executed results and ${ranInAudit.length} audit records that ran, each on a genuine ALLOW (${o.allowLikeFaultsGiven} ALLOW-shaped answers that were not genuine)`,
			Math.min(executed.length, o.allowLikeFaultsGiven),
		);
	}

	// 2. Every request id given to a client is on the audit trail exactly once.
	{
		const counts = new Map<string, number>();
		for (const r of o.audit) counts.set(r.request_id, (counts.get(r.request_id) ?? 0) + 1);
		const ids = returnedRequestIds(o.calls);
		const failures: string[] = [];
		for (const id of ids) {
			const n = counts.get(id) ?? 0;
			if (n !== 1) failures.push(`${id}: ${n} audit records`);
		}
		if (!o.auditComplete) failures.push("the audit export could not be read completely");
		add(
			"every request id returned to a client is in the audit trail exactly once",
			"12",
			failures,
			`${ids.length} request ids, each recorded once (${o.audit.length} records in all)`,
			ids.length,
		);
	}

	// 3. Loop budgets, per principal and normalised workflow id, in the window.
	{
		const hashToWorkflow = new Map<string, string>();
		for (const c of o.calls)
			if (c.tool === "retry-workflow" && !c.protocolRefusal)
				hashToWorkflow.set(argumentsHash(c.args), normaliseWorkflowId(String(c.args.workflowId)));
		const runs = new Map<string, number[]>();
		for (const r of o.audit) {
			const workflow = r.tool === "retry-workflow" && r.outcome !== "not_run" ? hashToWorkflow.get(r.args_sha256) : undefined;
			if (workflow === undefined) continue;
			const key = `${r.principal} ${workflow}`;
			runs.set(key, [...(runs.get(key) ?? []), Date.parse(r.at)]);
		}
		// Results the client saw count too, in case their record is missing.
		for (const c of o.calls) {
			if (c.tool !== "retry-workflow" || c.structured?.executed !== true) continue;
			const id = c.structured.request_id;
			if (o.audit.some((r) => r.request_id === id)) continue;
			const key = `${c.principal} ${normaliseWorkflowId(String(c.args.workflowId))}`;
			runs.set(key, [...(runs.get(key) ?? []), c.at]);
		}
		// The budget was pushed where one principal asked about one workflow more than MAX_RETRIES times.
		const asked = new Map<string, number>();
		for (const c of o.calls) {
			if (c.tool !== "retry-workflow" || c.outcome !== "result") continue;
			const key = `${c.principal} ${normaliseWorkflowId(String(c.args.workflowId))}`;
			asked.set(key, (asked.get(key) ?? 0) + 1);
		}
		const pushed = [...asked.values()].filter((n) => n > o.config.maxRetries).length;
		const failures: string[] = [];
		let most = 0;
		for (const [key, times] of runs) {
			const n = maxInWindow(
				times.map((t) => [t, t]),
				o.config.loopWindowSeconds * 1000,
			);
			most = Math.max(most, n);
			if (n > o.config.maxRetries) failures.push(`${key}: ran ${n} times (MAX_RETRIES ${o.config.maxRetries})`);
		}
		add(
			"loop budgets held (normalised workflow id, per principal, in the window)",
			"7",
			failures,
			`at most ${most} runs of one workflow per principal (MAX_RETRIES ${o.config.maxRetries}); ${pushed} workflows were tried more often than that`,
			pushed,
		);
	}

	// 4. Rate limits: admitted calls per principal in any minute.
	{
		const byPrincipal = new Map<string, [number, number][]>();
		for (const r of o.audit) {
			if (/RATE_LIMITED/.test(r.reason)) continue;
			const at = Date.parse(r.at);
			const interval: [number, number] = [at - (r.latency_ms ?? 0) - ADMISSION_SLACK_MS, at];
			byPrincipal.set(r.principal, [...(byPrincipal.get(r.principal) ?? []), interval]);
		}
		const failures: string[] = [];
		let most = 0;
		for (const [principal, intervals] of byPrincipal) {
			const n = maxInWindow(intervals, 60_000);
			most = Math.max(most, n);
			if (n > o.config.rateLimitPerMinute)
				failures.push(`${principal}: ${n} calls admitted within one minute (limit ${o.config.rateLimitPerMinute})`);
		}
		const limited = o.audit.filter((r) => /RATE_LIMITED/.test(r.reason)).length;
		add(
			"rate limits held (admitted calls per principal per minute)",
			"10, 12",
			failures,
			`at most ${most} admitted in a minute by one principal (limit ${o.config.rateLimitPerMinute}); ${limited} calls rate limited`,
			limited,
		);
	}

	// 5. No key or token anywhere a person or program could read it.
	{
		const failures: string[] = [];
		const places: [string, string][] = [
			["tool results", o.calls.map((c) => `${c.text}\n${JSON.stringify(c.structured ?? null)}`).join("\n")],
			["client errors", o.clientErrors.join("\n")],
			["HTTP bodies", o.raw.map((r) => r.body).join("\n")],
			["audit trail", o.auditText],
			["approvals API", o.approvals.pages.join("\n")],
			["server log", o.serverLog],
		];
		for (const [place, text] of places) {
			for (const secret of o.secrets)
				if (text.includes(secret)) failures.push(`${place} contain ${secret.startsWith("sg_") ? "a bearer token" : "the Stage0 API key"}`);
		}
		add(
			"no API key or bearer token in any tool result, HTTP body, audit record or server log",
			"6, 9",
			dedupe(failures),
			`checked ${o.calls.length} results, ${o.raw.length} raw answers, the audit trail, the approvals and the log`,
			o.calls.length,
		);
	}

	// 5b. A secret the agent pasted into an argument is stored redacted.
	{
		const failures: string[] = [];
		for (const [place, text] of [
			["audit trail", o.auditText],
			["approvals API", o.approvals.pages.join("\n")],
			["server log", o.serverLog],
		] as const) {
			if (text.includes(o.pastedSecret)) failures.push(`${place} show it`);
		}
		add(
			"a secret pasted into arguments is never shown by the audit trail, the approvals or the log",
			"11",
			failures,
			"redacted everywhere",
			o.calls.filter((c) => JSON.stringify(c.args).includes(o.pastedSecret) && c.outcome === "result").length,
		);
	}

	// 6. The attacker never saw the key.
	add(
		"the redirect target never received the Stage0 key",
		"4",
		o.attacker.gotKey ? [`it received the key (${o.attacker.hits} requests reached it)`] : [],
		`${o.attacker.hits} requests reached it, none with the key (${o.redirectsGiven} redirects given)`,
		o.redirectsGiven,
	);

	// 7. Alive afterwards.
	add(
		"the server answers GET /health afterwards",
		"",
		o.health.status === 200 && safeJson(o.health.body) ? [] : [`GET /health: ${o.health.status} ${o.health.body.slice(0, 80)}`],
		"200 with its description",
		1,
	);

	// 8. The role is the presented credential's, on every call.
	{
		const senders = new Map<string, Set<string>>();
		for (const c of o.calls) {
			const h = argumentsHash(stripApproval(c.args));
			senders.set(h, (senders.get(h) ?? new Set()).add(`${c.principal}/${c.role}`));
		}
		const failures: string[] = [];
		for (const r of o.audit) {
			const who = senders.get(r.args_sha256);
			if (who && !who.has(`${r.principal}/${r.role}`))
				failures.push(`${r.tool} recorded as ${r.principal}/${r.role}, sent by ${[...who].join(" or ")}`);
		}
		for (const c of o.calls) {
			if (c.role === "viewer" && c.structured?.executed === true && SIDE_EFFECT_TOOLS.has(c.tool))
				failures.push(`viewer ${c.cred} ran ${c.tool}`);
		}
		for (const l of o.listedAfterRoleChange) {
			const shown = l.tools.filter((t) => SIDE_EFFECT_TOOLS.has(t));
			if (l.role === "viewer" && shown.length) failures.push(`${l.cred}, now a viewer, is still listed ${shown.join(", ")}`);
		}
		add(
			"every call is decided with the role of the credential presented on it",
			"1, 2",
			dedupe(failures),
			`${o.audit.length} audit records match their sender's role; ${o.listedAfterRoleChange.length} tools/list after a role change`,
			o.hijackHashes.size + o.listedAfterRoleChange.length,
		);
	}

	// 9. A session belongs to the credential that opened it.
	{
		const failures: string[] = [];
		for (const r of o.raw.filter((r) => r.label.startsWith("hijack") || r.label.startsWith("junk-session"))) {
			if (r.status < 400 || r.status >= 500) failures.push(`${r.label}: HTTP ${r.status}`);
		}
		const junk = new Set(o.junkSessionIds);
		for (const r of o.audit) {
			if (junk.has(r.session_id)) failures.push(`a tool ran in client-chosen session ${r.session_id}`);
			if (o.hijackHashes.has(r.args_sha256))
				failures.push(`${r.tool} of another credential's session recorded as ${r.principal}/${r.role} (${r.outcome})`);
		}
		const n = o.raw.filter((r) => r.label.startsWith("hijack") || r.label.startsWith("junk-session")).length;
		add(
			"another credential's or a never-opened session id is refused, and nothing runs in it",
			"1, 10",
			dedupe(failures),
			`${n} attempts refused`,
			n,
		);
	}

	// 10. Session cap per principal.
	add(
		"open sessions per principal stay within MAX_SESSIONS_PER_PRINCIPAL",
		"10",
		o.sessionCap.opened > o.config.maxSessionsPerPrincipal
			? [
					`one principal opened ${o.sessionCap.opened} of ${o.sessionCap.tried} SSE streams at once (cap ${o.config.maxSessionsPerPrincipal})`,
				]
			: [],
		`${o.sessionCap.opened} of ${o.sessionCap.tried} streams opened (cap ${o.config.maxSessionsPerPrincipal})`,
		o.sessionCap.tried,
	);

	// 11. Cross-origin requests refused.
	{
		const failures = o.raw
			.filter((r) => r.expect === "forbidden")
			.filter((r) => r.status !== 403 || (r.allowOrigin !== null && r.allowOrigin !== "null"))
			.map((r) => `${r.label}: HTTP ${r.status}, Access-Control-Allow-Origin ${r.allowOrigin ?? "absent"}`);
		const n = o.raw.filter((r) => r.expect === "forbidden").length;
		add(
			"requests from a foreign Origin are refused with 403 and no CORS grant",
			"5",
			dedupe(failures),
			`${n} foreign-origin requests refused`,
			n,
		);
	}

	// 12. Hostile HTTP gets a JSON error, never a 5xx or a stack page.
	{
		const failures = o.raw
			.filter((r) => r.status >= 500 || !safeJson(r.body))
			.map((r) => `${r.label}: HTTP ${r.status} ${r.contentType || "(no type)"}${safeJson(r.body) ? "" : " not JSON"}`);
		add(
			"malformed and hostile HTTP requests get a JSON error, never a 5xx or a stack page",
			"9",
			dedupe(failures),
			`${o.raw.length} raw requests, each answered with JSON below 500`,
			o.raw.length,
		);
	}

	// 13. Refusals before the pipeline are audited.
	{
		// A refusal answered with a decision (and request id) is covered by invariant 2; one
		// answered with a bare error must still have left a protocol record of that principal.
		const returned = new Set(returnedRequestIds(o.calls));
		const bare = new Map<string, number>();
		let answered = 0;
		for (const c of o.calls) {
			if (!c.protocolRefusal || c.outcome === "transport-error") continue;
			answered++;
			if (c.outcome === "protocol-error") bare.set(c.principal, (bare.get(c.principal) ?? 0) + 1);
		}
		const failures: string[] = [];
		for (const [principal, n] of bare) {
			const recorded = o.audit.filter((r) => r.principal === principal && r.source === "protocol" && !returned.has(r.request_id)).length;
			if (recorded < n) failures.push(`${principal}: ${n} refused before the pipeline, ${recorded} protocol records`);
		}
		add(
			"calls refused before the pipeline (unknown, hidden, invalid) are on the audit trail",
			"12",
			failures,
			`${answered} refusals, each with a protocol record`,
			answered,
		);
	}

	// 14. Stage0 is told the payload it decides about.
	{
		const byNonce = new Map<string, ObservedCall>();
		for (const c of o.calls) if (c.payloadNonce) byNonce.set(c.payloadNonce, c);
		const failures: string[] = [];
		let checked = 0;
		for (const check of o.stage0Checks) {
			if (check.tool !== "publish-content" && check.tool !== "deploy-changes") continue;
			checked++;
			const nonce = [...byNonce.keys()].find((n) => check.body.includes(n));
			if (!nonce) {
				failures.push(`a ${check.tool} check carried no summary of the payload`);
				continue;
			}
			const hash = argumentsHash(stripApproval(byNonce.get(nonce)!.args));
			if (!check.body.includes(hash)) failures.push(`a ${check.tool} check carried no hash of the arguments`);
		}
		add(
			"every publish/deploy check tells Stage0 the payload (a summary and the argument hash)",
			"15",
			dedupe(failures),
			`${checked} checks described their payload`,
			checked,
		);
	}

	// 15. Approvals listed, in bounded pages.
	{
		const offered = new Set(o.calls.map((c) => c.structured?.approval?.id).filter((id): id is string => typeof id === "string"));
		const failures: string[] = [];
		if (o.approvals.error) failures.push(o.approvals.error);
		const missing = [...offered].filter((id) => !o.approvals.ids.has(id));
		if (missing.length) failures.push(`${missing.length} of ${offered.size} approvals offered to clients are not in GET /api/approvals`);
		const largest = Math.max(0, ...o.approvals.pages.map((p) => Buffer.byteLength(p)));
		if (largest > 1_000_000) failures.push(`a page of GET /api/approvals is ${(largest / 1e6).toFixed(1)} MB`);
		add(
			"every approval offered is listed by GET /api/approvals, in pages under 1 MB",
			"8",
			failures,
			`${offered.size} approvals, all listed; largest page ${(largest / 1024).toFixed(0)} KiB`,
			offered.size,
		);
	}

	return out;
}

/** The most intervals lying wholly inside one window of `windowMs`. */
export function maxInWindow(intervals: [number, number][], windowMs: number): number {
	const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
	let most = 0;
	for (let i = 0; i < sorted.length; i++) {
		const end = sorted[i][0] + windowMs;
		let n = 0;
		for (let j = i; j < sorted.length; j++) if (sorted[j][1] < end) n++;
		most = Math.max(most, n);
	}
	return most;
}

function stripApproval(args: Record<string, unknown>): Record<string, unknown> {
	const { approvalId: _a, ...rest } = args;
	return rest;
}

function describeAnswer(id: unknown, o: Observations): string {
	if (typeof id !== "string") return "no request id";
	if (o.attacker.allowIds.has(id)) return `the redirect target's ALLOW ${id}`;
	const a = o.stage0Answers.get(id);
	return a
		? `a ${a.genuine ? "genuine" : "non-genuine"} ${a.kind} answer (${a.verdict ?? "no verdict"}) ${id}`
		: `request id ${id}, which the stand-in never gave`;
}

function safeJson(text: string): boolean {
	try {
		JSON.parse(text);
		return true;
	} catch {
		return false;
	}
}

function dedupe(lines: string[]): string[] {
	return [...new Set(lines)];
}

function summarise(failures: string[]): string {
	const shown = failures.slice(0, 4).join("; ");
	return failures.length > 4 ? `${failures.length} failures, e.g. ${shown}` : shown;
}
