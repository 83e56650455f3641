/**
 * Decision-core micro-benchmark: the guard's own code, in one Node process,
 * with no transport, no Durable Object and no network. It imports src/guard/*
 * and src/tools/* unchanged.
 *
 * "Decision" = one guardedCall(): hash the arguments, ask the rate limit,
 * ask the local policy (the bundled Cedar set, pre-parsed), describe the call (intent), build the check
 * request, ask the authority, write the audit record, act on the verdict. The
 * headline figure is the simulated-mode research-topic decision
 * (SimulatedAuthority with its real crypto.randomUUID request ids), with the
 * Durable-Object-backed stores replaced by in-memory ones: the loop counter,
 * the principal's budget (rate limit, rolling loop count) and the audit trail.
 * The stores' own cost (RPC, SQL) is measured against the Worker, not here.
 *
 * Run alone: `npx tsx bench/core.ts`.
 */
import { createHash } from "node:crypto";
import { argumentsHash, canonicalJson } from "../src/guard/approvals";
import type { AuditEntry, AuditTrail } from "../src/guard/audit";
import type { PrincipalBudget } from "../src/guard/budgets";
import { type CheckRequest, Stage0AnswerSchema } from "../src/guard/decision";
import { buildCheckRequest, type CallRuntime, type Intent } from "../src/guard/intent";
import { describeCall } from "../src/guard/local-policy";
import { type GuardDeps, guardedCall, type LoopCounter } from "../src/guard/pipeline";
import { SimulatedAuthority, simulateDecision } from "../src/guard/simulated-authority";
import { Stage0Client } from "../src/guard/stage0-client";
import { loadPolicy } from "../src/policy/node";
import { TOOLS, type ToolDefinition } from "../src/tools/definitions";
import { renderOutcome } from "../src/tools/result";
import { median, round } from "./stats";

export interface CoreResult {
	name: string;
	what: string;
	ns_per_op: number;
	ops_per_s: number;
	samples: number;
	iterations_per_sample: number;
}

const SAMPLE_MS = 100;
const SAMPLES = 7;

// Results are written here so the optimiser cannot drop the measured work.
let sink: unknown;

async function measure(name: string, what: string, fn: () => unknown, isAsync: boolean): Promise<CoreResult> {
	const runBatch = isAsync
		? async (n: number) => {
				const t0 = process.hrtime.bigint();
				for (let i = 0; i < n; i++) sink = await fn();
				return Number(process.hrtime.bigint() - t0);
			}
		: async (n: number) => {
				const t0 = process.hrtime.bigint();
				for (let i = 0; i < n; i++) sink = fn();
				return Number(process.hrtime.bigint() - t0);
			};
	// Calibrate: grow the batch until it takes ~20 ms, then size samples to SAMPLE_MS.
	let n = 64;
	let ns = await runBatch(n);
	while (ns < 20e6 && n < 1 << 24) {
		n *= 2;
		ns = await runBatch(n);
	}
	const perSample = Math.max(1, Math.round((n * SAMPLE_MS * 1e6) / ns));
	await runBatch(perSample); // warm-up sample
	const perOp: number[] = [];
	for (let s = 0; s < SAMPLES; s++) perOp.push((await runBatch(perSample)) / perSample);
	const nsPerOp = median(perOp);
	return {
		name,
		what,
		ns_per_op: round(nsPerOp, 1),
		ops_per_s: Math.round(1e9 / nsPerOp),
		samples: SAMPLES,
		iterations_per_sample: perSample,
	};
}

/**
 * The p50 of single timed calls (a latency, where measure() gives a throughput):
 * after a warm-up, `n` calls each timed on its own.
 */
function singleCallP50(name: string, what: string, fn: () => unknown, n = 20_000): CoreResult {
	for (let i = 0; i < 2_000; i++) sink = fn();
	const times = new Float64Array(n);
	for (let i = 0; i < n; i++) {
		const t0 = process.hrtime.bigint();
		sink = fn();
		times[i] = Number(process.hrtime.bigint() - t0);
	}
	const p50 = median([...times]);
	return { name, what, ns_per_op: round(p50, 1), ops_per_s: Math.round(1e9 / p50), samples: n, iterations_per_sample: 1 };
}

/** What the pipeline sends: the tool's intent, side effects defaulting to the tool's declared ones. */
function describe(t: ToolDefinition, args: Record<string, unknown>): Intent & { side_effects: string[] } {
	const raw = t.intent(args as never);
	const declared = (t as { sideEffects?: readonly string[] }).sideEffects ?? [];
	return { ...raw, side_effects: raw.side_effects ?? [...declared] };
}

function tool(name: string): ToolDefinition {
	const t = TOOLS.find((x) => x.name === name);
	if (!t) throw new Error(`no tool ${name}`);
	return t;
}

/** The stand-in's "policy" answer for a request, as JSON text (what Stage0Client parses). */
function stage0AnswerText(request: CheckRequest): string {
	const d = simulateDecision(request, "3f0e7c1a-5b7d-4d0e-9a51-7b6f3c2d1e00");
	return JSON.stringify({
		verdict: d.verdict,
		decision: d.decision,
		reason: d.reason,
		request_id: d.request_id,
		policy_version: "standin-policy-v2.3.1",
		risk_score: d.risk_score,
		high_risk: d.high_risk,
		issues: d.issues,
		clarifying_questions: d.questions,
		defer_questions: [],
		guardrails: d.guardrails,
		decision_trace_summary: `${d.verdict} by stand-in policy`,
		cached: false,
		evaluated_at: "2026-11-26T00:00:00.000Z",
	});
}

/** A fresh Response per call, as fetch gives one (the client streams its body, up to a cap). */
function fakeFetch(text: string): typeof fetch {
	return (async () => new Response(text, { status: 200, headers: { "content-type": "application/json" } })) as typeof fetch;
}

export async function runCoreBench(log: (line: string) => void = () => {}): Promise<CoreResult[]> {
	const research = tool("research-topic");
	const retry = tool("retry-workflow");
	const publish = tool("publish-content");
	const runtime = { principal: "local", role: "developer", sessionId: "bench-session-0000" } as CallRuntime;
	const viewer = { ...runtime, role: "viewer" } as CallRuntime;
	const researchArgs = { topic: "edge computing" };
	const publishArgs = { content: "Release notes for version 2.4", channel: "blog" };

	const counts = new Map<string, number>();
	const memoryLoops: LoopCounter = {
		reserveAttempt(toolName, key) {
			const k = `${toolName}\u0000${key}`;
			const n = (counts.get(k) ?? 0) + 1;
			counts.set(k, n);
			return n;
		},
	};
	const overLimit: LoopCounter = { reserveAttempt: () => 99 };
	const budget: PrincipalBudget = {
		admitCall: async () => ({ ok: true }),
		reserveLoopAttempt: async (toolName, key) => counts.get(`${toolName}\u0000${key}`) ?? 1,
	};
	// The last 1024 records, as a ring: enough to keep the work honest, bounded in memory.
	const records: (AuditEntry | undefined)[] = Array.from({ length: 1024 }, () => undefined);
	let seq = 0;
	const audit: AuditTrail = {
		record: async (entry) => {
			records[seq & 1023] = entry;
			return ++seq;
		},
		complete: async () => {},
	};
	const simulated = new SimulatedAuthority();
	const policy = loadPolicy();
	const simDeps: GuardDeps = { authority: simulated, policy, loops: memoryLoops, maxRetries: 5, runtime, budget, audit };
	// For the counter path: a limit so high that every attempt is under it.
	const simDepsNoLimit: GuardDeps = { ...simDeps, maxRetries: Number.MAX_SAFE_INTEGER };
	const limitDeps: GuardDeps = { ...simDeps, loops: overLimit };
	const viewerDeps: GuardDeps = { ...simDeps, runtime: viewer };

	const researchRequest = buildCheckRequest(research.name, describe(research, researchArgs), runtime);
	const publishRequest = buildCheckRequest(publish.name, describe(publish, publishArgs), runtime);
	const allowText = stage0AnswerText(researchRequest);
	const denyText = stage0AnswerText(publishRequest);
	const allowJson = JSON.parse(allowText);
	const denyJson = JSON.parse(denyText);
	const client = (text: string) =>
		new Stage0Client({ apiKey: "bench-key", baseUrl: "http://127.0.0.1:9", timeoutMs: 5000, fetch: fakeFetch(text) });
	const stage0Allow = client(allowText);
	const stage0Deny = client(denyText);
	const stage0Deps: GuardDeps = { ...simDeps, authority: stage0Allow };
	const simulatedOutcome = await guardedCall(research, researchArgs, simDeps);

	// Sanity: the measured paths decide what they are meant to.
	const expect = (label: string, actual: unknown, wanted: unknown) => {
		if (actual !== wanted) throw new Error(`core bench: ${label} gave ${String(actual)}, expected ${String(wanted)}`);
	};
	expect("simulated research-topic", simulatedOutcome.action.status, "executed");
	expect("simulated publish-content", (await guardedCall(publish, publishArgs, simDeps)).decision.verdict, "DENY");
	expect("loop limit", (await guardedCall(retry, { workflowId: "wf" }, limitDeps)).decision.source, "local-rule");
	expect("stage0 allow", (await guardedCall(research, researchArgs, stage0Deps)).action.status, "executed");
	expect("stage0 deny", (await stage0Deny.check(publishRequest)).verdict, "DENY");
	expect("answer schema", Stage0AnswerSchema.safeParse(allowJson).success, true);
	expect("viewer publishes", (await guardedCall(publish, publishArgs, viewerDeps)).decision.source, "local-rule");
	expect("audit written", seq > 0, true);
	expect("same digest", createHash("sha256").update(canonicalJson(researchArgs)).digest("hex"), argumentsHash(researchArgs));

	// The local policy's questions, described as the pipeline describes them (Date.now() per call, as there).
	const deploy = tool("deploy-changes");
	const deployArgs = { serviceName: "billing", environment: "production", changes: "v2" };
	const researchPolicyCall = () => describeCall(research, [], researchArgs, undefined, runtime, Date.now());
	const deployPolicyCall = () => describeCall(deploy, ["deploy"], deployArgs, { environment: "production" }, runtime, Date.now());
	const viewerPolicyCall = () => describeCall(publish, ["publish"], publishArgs, undefined, viewer, Date.now());
	expect("policy permits research", policy.decide(researchPolicyCall()).kind, "permitted");
	expect("policy holds a production deploy", policy.decide(deployPolicyCall()).kind, "needs-approval");
	expect("policy forbids a viewer's publish", policy.decide(viewerPolicyCall()).kind, "forbidden");

	let wf = 0;
	const realTimeout = AbortSignal.timeout.bind(AbortSignal);
	// The proposed fix for argumentsHash, applied for the ablation only: the same
	// SHA-256 from node:crypto, synchronous, still behind crypto.subtle.digest's promise.
	const subtle = crypto.subtle as unknown as Record<string, unknown>;
	const syncDigest = {
		before: () => {
			Object.defineProperty(subtle, "digest", {
				configurable: true,
				value: async (_algorithm: unknown, data: Uint8Array) => {
					const digest = createHash("sha256").update(data).digest();
					return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength);
				},
			});
		},
		after: () => void delete subtle.digest,
	};
	const cases: [string, string, () => unknown, boolean, { before(): void; after(): void }?][] = [
		// Headline: a whole simulated-mode decision, as the Durable Object runs it.
		[
			"decision: research-topic, simulated",
			"guardedCall(): hash, rate limit, rules, intent, check request, SimulatedAuthority, audit, run (in-memory stores)",
			() => guardedCall(research, researchArgs, simDeps),
			true,
		],
		[
			"decision: publish-content DENY, simulated",
			"guardedCall() on the DENY path (action not run)",
			() => guardedCall(publish, publishArgs, simDeps),
			true,
		],
		[
			"decision: retry-workflow, counter",
			"guardedCall() with an in-memory loop counter (1024 keys)",
			() => guardedCall(retry, { workflowId: `wf-${wf++ & 1023}` }, simDepsNoLimit),
			true,
		],
		[
			"decision: loop limit (local rule)",
			"guardedCall() stopped by the server's loop limit, no authority asked",
			() => guardedCall(retry, { workflowId: "wf" }, limitDeps),
			true,
		],
		[
			"decision: viewer publishes (local rule)",
			"guardedCall() for a viewer with a side effect: the local rule table refuses, no authority asked",
			() => guardedCall(publish, publishArgs, viewerDeps),
			true,
		],
		[
			"ablation: research-topic, sync SHA-256",
			"the headline decision with crypto.subtle.digest replaced by node:crypto's synchronous SHA-256",
			() => guardedCall(research, researchArgs, simDeps),
			true,
			syncDigest,
		],
		[
			"ablation: Stage0 client, sync SHA-256",
			"the Stage0-client decision, same replacement",
			() => guardedCall(research, researchArgs, stage0Deps),
			true,
			syncDigest,
		],
		[
			"part: intent + buildCheckRequest",
			"tool.intent(args), default side effects, then buildCheckRequest()",
			() => buildCheckRequest(research.name, describe(research, researchArgs), runtime),
			false,
		],
		[
			"part: local policy (permitted)",
			"LocalPolicy.decide(): developer, research-topic, bundled Cedar set (one evaluation)",
			() => policy.decide(researchPolicyCall()),
			false,
		],
		[
			"part: local policy (deploy, approval)",
			"LocalPolicy.decide(): developer deploys to production (refused, then evaluated as approved)",
			() => policy.decide(deployPolicyCall()),
			false,
		],
		[
			"part: local policy (viewer, forbidden)",
			"LocalPolicy.decide(): viewer publishes (refused twice)",
			() => policy.decide(viewerPolicyCall()),
			false,
		],
		[
			"part: argumentsHash (crypto.subtle)",
			"SHA-256 of the canonical arguments, as the pipeline computes it for every call",
			() => argumentsHash(researchArgs),
			true,
		],
		["part: canonicalJson", "the hashed text alone", () => canonicalJson(researchArgs), false],
		[
			"part: node:crypto SHA-256 (sync)",
			"the same digest with node:crypto createHash (available in Workers with nodejs_compat)",
			() => createHash("sha256").update(canonicalJson(researchArgs)).digest("hex"),
			false,
		],
		["part: simulateDecision (ALLOW)", "the simulator's rules, fixed request id", () => simulateDecision(researchRequest, "id"), false],
		["part: simulateDecision (DENY)", "the simulator's rules on a side-effect DENY", () => simulateDecision(publishRequest, "id"), false],
		["part: crypto.randomUUID", "one fresh request id", () => crypto.randomUUID(), false],
		[
			"part: renderOutcome",
			"MCP result: structuredContent + text block (runs after a decision)",
			() => renderOutcome(research.name, research.kind, simulatedOutcome, research.summarize),
			false,
		],
		["part: JSON.stringify(check request)", "the /check body", () => JSON.stringify(researchRequest), false],
		["part: JSON.parse(answer)", "Stage0's ALLOW answer text", () => JSON.parse(allowText), false],
		[
			"part: zod Stage0AnswerSchema (ALLOW)",
			"Stage0AnswerSchema.safeParse on a parsed ALLOW answer",
			() => Stage0AnswerSchema.safeParse(allowJson),
			false,
		],
		[
			"part: zod Stage0AnswerSchema (DENY)",
			"the same on a DENY answer with one issue",
			() => Stage0AnswerSchema.safeParse(denyJson),
			false,
		],
		[
			"part: response parsing (ALLOW)",
			"JSON.parse + Stage0AnswerSchema.safeParse: Stage0Client's parsing of one answer",
			() => Stage0AnswerSchema.safeParse(JSON.parse(allowText)),
			false,
		],
		// The Stage0 client's I/O scaffolding comes last: in Node every
		// AbortSignal.timeout(5000) leaves a 5 s timer (and a weak reference)
		// behind, and in a tight loop their garbage slows whatever runs next.
		// The ablation runs first, before any such timer exists.
		[
			"ablation: Stage0Client.check, no timeout signal",
			"Stage0Client.check with AbortSignal.timeout stubbed by a plain signal (runs first)",
			async () => {
				AbortSignal.timeout = () => new AbortController().signal;
				try {
					return await stage0Allow.check(researchRequest);
				} finally {
					AbortSignal.timeout = realTimeout;
				}
			},
			true,
		],
		[
			"part: Stage0Client.check (ALLOW)",
			"the client alone, fake fetch: stringify, size check, timeout signal, parse, zod",
			() => stage0Allow.check(researchRequest),
			true,
		],
		[
			"decision: research-topic, Stage0 client",
			"guardedCall() via Stage0Client with a fake fetch",
			() => guardedCall(research, researchArgs, stage0Deps),
			true,
		],
		["part: AbortSignal.timeout(5000)", "the per-attempt time budget signal, in Node", () => AbortSignal.timeout(5000), false],
	];
	const results: CoreResult[] = [];
	for (const [name, what, fn, isAsync, wrap] of cases) {
		wrap?.before();
		let r: CoreResult;
		try {
			r = await measure(name, what, fn, isAsync);
		} finally {
			wrap?.after();
		}
		results.push(r);
		log(`  ${name.padEnd(44)} ${String(r.ns_per_op).padStart(9)} ns/op  ${r.ops_per_s.toLocaleString("en-US").padStart(12)} /s`);
	}
	// The local policy's target is a latency: p50 of single decisions (equal requests are remembered per isolate).
	let uncached = 0;
	for (const [name, what, fn] of [
		["p50: local policy (permitted)", "median of 20,000 single LocalPolicy.decide() calls: developer, research-topic", researchPolicyCall],
		["p50: local policy (deploy, approval)", "the same, developer deploys to production (two evaluations)", deployPolicyCall],
		// Every request new (another principal each time): Cedar evaluates, nothing is remembered.
		[
			"p50: local policy, uncached (permitted)",
			"the same as the first, a new principal per call: one Cedar evaluation each",
			() => ({ ...researchPolicyCall(), caller: { ...runtime, principal: `p${uncached++}` } }),
		],
		[
			"p50: local policy, uncached (approval)",
			"the same as the second, a new principal per call: two Cedar evaluations each",
			() => ({ ...deployPolicyCall(), caller: { ...runtime, principal: `p${uncached++}` } }),
		],
	] as const) {
		const r = singleCallP50(name, what, () => policy.decide(fn()));
		results.push(r);
		log(`  ${name.padEnd(44)} ${String(r.ns_per_op).padStart(9)} ns p50`);
	}
	void sink;
	return results;
}

// `tsx bench/core.ts` prints a table; with --json (as bench/run.ts calls it, in
// a process of its own) it prints the results as JSON on the last line.
if (import.meta.url === `file://${process.argv[1]}`) {
	const json = process.argv.includes("--json");
	const log = json ? (line: string) => process.stderr.write(`${line}\n`) : console.log;
	log(`decision core, node ${process.version}`);
	const results = await runCoreBench(log);
	if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
	process.exit(0);
}
