/**
 * The soak (`npm run test:load`, and a short run in test/e2e/soak.test.ts):
 * the real Worker under `wrangler dev` on loopback in Stage0 mode, a Stage0
 * stand-in failing at random, a redirect target posing as Stage0, 24+ MCP
 * sessions over /mcp and /sse with the official SDK client across several
 * principals, hostile input and raw HTTP mixed in, and one SIGKILL of the
 * Worker mid-run followed by a restart on the same state. Everything seen is
 * kept and judged at the end by invariants.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { type DevServer, startDevServer } from "../../scripts/lib/dev-server";
import { argumentsHash } from "../../src/guard/approvals";
import { type AttackerServer, startAttackerServer } from "../support/attacker-server";
import { type Stage0StandIn, startStage0StandIn } from "../support/stage0-standin";
import { SOAK_TOKENS, type TestToken, TOKENS, tokenTableOf } from "../support/test-tokens";
import { chaosChooser, seededRandom } from "./chaos";
import { checkInvariants, type Invariant, type ObservedCall, type Observations, type RawAnswer, returnedRequestIds } from "./invariants";
import {
	deeplyNestedJson,
	LARGE_ARGUMENT_BYTES,
	LOOPED_WORKFLOW,
	PASTED_SECRET,
	type PlannedCall,
	planCall,
	resetWorkload,
	type Role,
	workflowVariants,
} from "./workload";
import type { ToolResult } from "../support/results";

export interface SoakOptions {
	/** Stop after this many calls (tool calls and raw requests). */
	calls: number;
	/** ...or after this many seconds, whichever comes first. */
	seconds: number;
	sessions?: number;
	seed?: number;
	/** When to kill the Worker, as a fraction of the run. */
	killAt?: number;
	/** How long to wait, at most, for the audit trail to hold every returned request id. */
	settleSeconds?: number;
	log?: (line: string) => void;
}

export interface SoakReport {
	invariants: Invariant[];
	stats: Record<string, number | string>;
}

const KEY = "sk-soak-5c1e9a7b3d2f4e60";
const STAGE0_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 30_000;
const CONFIG = { maxRetries: 2, rateLimitPerMinute: 30, loopWindowSeconds: 3600, maxSessionsPerPrincipal: 16 };
const PROTOCOL_VERSION = "2025-06-18";

type CredName = "alice" | "bob" | "carol" | "victor" | "daveAdmin" | "daveViewer" | "erin" | "mallory";
const CREDS: Record<CredName, TestToken> = { ...TOKENS, ...SOAK_TOKENS };
/** erin is an admin until the restart, a viewer after it (issue 8 item 2). */
const DEMOTED: CredName = "erin";
const ADMIN: CredName = "bob";

/** Who drives which session, over which transport: 24 by default. */
const SESSION_PLAN: [CredName, "mcp" | "sse"][] = [
	["alice", "mcp"],
	["alice", "sse"],
	["alice", "mcp"],
	["alice", "sse"],
	["alice", "mcp"],
	["bob", "mcp"],
	["bob", "sse"],
	["bob", "mcp"],
	["bob", "sse"],
	["carol", "mcp"],
	["carol", "sse"],
	["carol", "mcp"],
	["carol", "sse"],
	["victor", "mcp"],
	["victor", "sse"],
	["victor", "mcp"],
	["daveAdmin", "mcp"],
	["daveAdmin", "sse"],
	["daveAdmin", "mcp"],
	["daveViewer", "mcp"],
	["daveViewer", "sse"],
	["erin", "mcp"],
	["erin", "sse"],
	["erin", "mcp"],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Session {
	cred: CredName;
	transport: "mcp" | "sse";
	client?: Client;
	sessionId?: string;
	/** Unanswered calls in a row on this client. */
	failures: number;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
	const log = options.log ?? (() => {});
	const seed = options.seed ?? 1;
	const random = seededRandom(seed);
	resetWorkload();
	const started = Date.now();
	let drivingFrom = started;
	let deadline = started + options.seconds * 1000;
	const killAt = options.killAt ?? 0.3;
	const persistTo = mkdtempSync(join(tmpdir(), "edge-guard-soak-"));
	const secrets = [KEY, ...Object.values(CREDS).map((c) => c.token)];

	const obs: Observations = {
		calls: [],
		raw: [],
		clientErrors: [],
		stage0Answers: new Map(),
		stage0Checks: [],
		attacker: { hits: 0, gotKey: false, allowIds: new Set() },
		redirectsGiven: 0,
		allowLikeFaultsGiven: 0,
		audit: [],
		auditText: "",
		auditComplete: false,
		approvals: { pages: [], ids: new Set() },
		serverLog: "",
		health: { status: 0, body: "" },
		secrets,
		pastedSecret: PASTED_SECRET,
		config: CONFIG,
		sessionCap: { tried: 0, opened: 0 },
		junkSessionIds: [],
		hijackHashes: new Set(),
		listedAfterRoleChange: [],
	};

	let stage0: Stage0StandIn | undefined;
	let attacker: AttackerServer | undefined;
	let server: DevServer | undefined;
	let firstRunLog = "";
	const sessions: Session[] = [];
	try {
		attacker = await startAttackerServer([KEY]);
		stage0 = await startStage0StandIn({ apiKey: KEY });
		const chaos = chaosChooser(seededRandom(seed * 7919), attacker.url);
		stage0.setChooser(chaos.choose);
		const roles = (phase: "before" | "after"): TestToken[] =>
			Object.entries(CREDS).map(([name, t]) => (phase === "after" && name === DEMOTED ? { ...t, role: "viewer" } : t));
		const vars = (phase: "before" | "after") => ({
			STAGE0_API_KEY: KEY,
			STAGE0_BASE_URL: stage0!.url,
			STAGE0_TIMEOUT_MS: String(STAGE0_TIMEOUT_MS),
			MCP_AUTH_TOKENS: tokenTableOf(roles(phase)),
			MAX_RETRIES: String(CONFIG.maxRetries),
			RATE_LIMIT_PER_MINUTE: String(CONFIG.rateLimitPerMinute),
			LOOP_WINDOW_SECONDS: String(CONFIG.loopWindowSeconds),
			MAX_SESSIONS_PER_PRINCIPAL: String(CONFIG.maxSessionsPerPrincipal),
			AUDIT_STORE_ARGUMENTS: "true",
		});
		server = await startDevServer({ vars: vars("before"), persistTo });
		const origin = server.origin;
		log(
			`soak: Worker up after ${((Date.now() - started) / 1000).toFixed(1)} s on ${origin}, Stage0 stand-in on ${stage0.url}, redirect target on ${attacker.url}`,
		);

		let phase: "before" | "after" = "before";
		const roleOf = (cred: CredName): Role => (phase === "after" && cred === DEMOTED ? "viewer" : (CREDS[cred].role as Role));
		const auth = (cred: CredName) => ({ authorization: `Bearer ${CREDS[cred].token}` });
		let up: Promise<void> = Promise.resolve();
		let down = false;
		let restarts = 0;
		let issued = 0;
		const take = () => (issued < options.calls && Date.now() < deadline ? ++issued : 0);
		let nonceCounter = 0;
		// Ends in a letter, so no nonce is a prefix of another.
		const nonce = () => `soak${seed}n${++nonceCounter}x`;

		// ------------------------------------------------------------ clients
		const connect = async (s: Session) => {
			await up;
			const headers = auth(s.cred);
			const client = new Client({ name: `soak-${s.cred}`, version: "1" });
			client.onerror = () => {}; // transport noise during the crash is expected
			if (s.transport === "mcp") {
				const transport = new StreamableHTTPClientTransport(new URL(`${origin}/mcp`), { requestInit: { headers } });
				await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
				s.sessionId = transport.sessionId;
			} else {
				const transport = new SSEClientTransport(new URL(`${origin}/sse`), { requestInit: { headers } });
				await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
				s.sessionId = (transport as unknown as { _endpoint?: URL })._endpoint?.searchParams.get("sessionId") ?? undefined;
			}
			s.client = client;
		};
		// Ends a session as a client should (DELETE for Streamable HTTP), so open sessions do not pile up.
		const endSession = async (s: Session) => {
			const client = s.client;
			s.client = undefined;
			const transport = client?.transport;
			if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {});
			await client?.close().catch(() => {});
		};
		const reconnect = async (s: Session) => {
			await endSession(s);
			while (Date.now() < deadline + 15_000) {
				try {
					await connect(s);
					return;
				} catch (error) {
					obs.clientErrors.push(String(error));
					await sleep(300);
				}
			}
		};

		/** `role` is the credential's role when the call was sent (it changes at the restart). */
		const record = (s: { cred: CredName }, call: Omit<ObservedCall, "cred" | "principal" | "role" | "at">, role = roleOf(s.cred)) =>
			obs.calls.push({ cred: s.cred, principal: CREDS[s.cred].principal, role, at: Date.now(), ...call });

		const callTool = (s: Session) => callPlanned(s, planCall(random, roleOf(s.cred), nonce()));
		const callPlanned = async (s: Session, plan: PlannedCall) => {
			const role = roleOf(s.cred);
			const base = {
				tool: plan.tool,
				args: plan.args,
				protocolRefusal: plan.protocolRefusal ?? false,
				payloadNonce: plan.payloadNonce,
				via: "sdk" as const,
			};
			try {
				const result = (await s.client!.callTool({ name: plan.tool, arguments: plan.args }, undefined, {
					timeout: CALL_TIMEOUT_MS,
				})) as Partial<ToolResult>;
				const text = (result.content ?? []).map((c) => c.text).join("\n");
				record(
					s,
					{
						...base,
						outcome: result.structuredContent ? "result" : "protocol-error",
						structured: result.structuredContent,
						text,
					},
					role,
				);
				return true;
			} catch (error) {
				const protocol = error instanceof McpError && error.code !== -32000 && error.code !== -32001;
				record(s, { ...base, outcome: protocol ? "protocol-error" : "transport-error", text: String(error) }, role);
				if (!protocol) obs.clientErrors.push(String(error));
				return protocol;
			}
		};

		// ------------------------------------------------------------ raw HTTP
		const raw = async (label: string, cred: CredName, path: string, init: RequestInit, expect: RawAnswer["expect"]) => {
			const generation = restarts;
			try {
				const res = await fetch(`${origin}${path}`, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
				const body = await res.text();
				const answer: RawAnswer = {
					label,
					cred,
					status: res.status,
					contentType: res.headers.get("content-type") ?? "",
					body,
					allowOrigin: res.headers.get("access-control-allow-origin"),
					expect,
				};
				obs.raw.push(answer);
				return answer;
			} catch (error) {
				obs.clientErrors.push(`${label}: ${String(error)}`);
				// No answer at all is not a JSON error either, unless the Worker was being killed meanwhile.
				if (!down && generation === restarts)
					obs.raw.push({
						label: `${label} (no answer: ${String(error).slice(0, 60)})`,
						cred,
						status: 0,
						contentType: "",
						body: "",
						allowOrigin: null,
						expect,
					});
				return undefined;
			}
		};
		const mcpHeaders = (cred: CredName, extra: Record<string, string> = {}) => ({
			...auth(cred),
			"content-type": "application/json",
			accept: "application/json, text/event-stream",
			"mcp-protocol-version": PROTOCOL_VERSION,
			...extra,
		});
		const toolsCall = (name: string, args: Record<string, unknown>) =>
			JSON.stringify({ jsonrpc: "2.0", id: `raw-${nonceCounter}`, method: "tools/call", params: { name, arguments: args } });
		const ownSse = (cred: CredName) => sessions.find((x) => x.cred === cred && x.transport === "sse" && x.sessionId)?.sessionId;
		const someoneElsesMcp = (cred: CredName) =>
			sessions.find((x) => CREDS[x.cred].principal !== CREDS[cred].principal && x.transport === "mcp" && x.sessionId)?.sessionId;

		const MALFORMED = [
			"{",
			"{}",
			"[]",
			deeplyNestedJson(3000),
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"research-topic","arguments":{"topic":${deeplyNestedJson(3000)}}}}`,
		];
		type ProbeKind =
			| "mcp-malformed"
			| "sse-malformed"
			| "junk-session"
			| "audit-uri"
			| "delete-other"
			| "origin"
			| "hijack-mcp"
			| "hijack-sse";
		const PROBES: ProbeKind[] = ["mcp-malformed", "sse-malformed", "junk-session", "audit-uri", "delete-other", "origin"];
		const runProbe = async (kind: ProbeKind, cred: CredName, body = MALFORMED[Math.floor(random() * MALFORMED.length)]) => {
			issued++;
			switch (kind) {
				case "mcp-malformed":
					return raw(`POST /mcp ${body.slice(0, 12)}`, cred, "/mcp", { method: "POST", headers: mcpHeaders(cred), body }, "json");
				case "sse-malformed": {
					const id = ownSse(cred);
					if (!id) return;
					return raw(
						`POST /sse/message ${body.slice(0, 12)}`,
						cred,
						`/sse/message?sessionId=${id}`,
						{ method: "POST", headers: mcpHeaders(cred), body },
						"json",
					);
				}
				case "junk-session": {
					const id = `junk-${nonce()}`;
					obs.junkSessionIds.push(id);
					return raw(
						`junk-session ${id}`,
						cred,
						`/sse/message?sessionId=${id}`,
						{ method: "POST", headers: mcpHeaders(cred), body: toolsCall("research-topic", { topic: `${id} junk` }) },
						"refused",
					);
				}
				case "audit-uri":
					return raw("GET /api/audit/%", cred, "/api/audit/%", { headers: auth(cred) }, "json");
				case "delete-other": {
					const id = someoneElsesMcp(cred);
					if (!id) return;
					return raw(
						"DELETE /mcp with another principal's session",
						cred,
						"/mcp",
						{ method: "DELETE", headers: mcpHeaders(cred, { "mcp-session-id": id }) },
						"json",
					);
				}
				case "origin": {
					const init = {
						jsonrpc: "2.0",
						id: 0,
						method: "initialize",
						params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "evil-page", version: "1" } },
					};
					return raw(
						"POST /mcp from http://evil.example",
						cred,
						"/mcp",
						{ method: "POST", headers: mcpHeaders(cred, { origin: "http://evil.example" }), body: JSON.stringify(init) },
						"forbidden",
					);
				}
				case "hijack-mcp":
					return hijack(cred, "mcp");
				case "hijack-sse":
					return hijack(cred, "sse");
			}
		};
		// Now and then, instead of a tool call: raw HTTP with this session's credential.
		const probe = (s: Session) => {
			const kinds: ProbeKind[] = s.cred === "daveViewer" ? [...PROBES, "hijack-mcp", "hijack-sse"] : PROBES;
			return runProbe(kinds[Math.floor(random() * kinds.length)], s.cred);
		};

		/**
		 * Once before the crash and once after: every hostile request at least
		 * once, a burst over one principal's rate limit, and production deploys
		 * with large arguments (held for approval by the local rules, so the
		 * approvals list must stay small).
		 */
		const hostileRound = async (label: string) => {
			const creds: CredName[] = ["alice", "victor", "daveViewer"];
			await Promise.all([
				...creds.flatMap((cred) => PROBES.map((kind) => runProbe(kind, cred))),
				...MALFORMED.flatMap((body) => [runProbe("mcp-malformed", "bob", body), runProbe("sse-malformed", "bob", body)]),
				runProbe("hijack-mcp", "daveViewer"),
				runProbe("hijack-sse", "daveViewer"),
				burst("carol", CONFIG.rateLimitPerMinute + 5),
				errands("mallory"),
			]);
			log(`soak: hostile round ${label} done`);
		};
		// Every session of one principal at once, a few calls each: more than its limit in a few seconds.
		const burst = async (cred: CredName, n: number) => {
			const own = sessions.filter((x) => x.cred === cred && x.client);
			await Promise.all(
				own.map(async (s, i) => {
					for (let k = i; k < n; k += own.length) {
						issued++;
						await callPlanned(s, { tool: "research-topic", args: { topic: `${nonce()} burst` } });
					}
				}),
			);
		};
		/**
		 * One more session, of a principal the drivers do not use (so its rate
		 * limit is its own): production deploys with large arguments, which the
		 * local rules hold for approval without asking Stage0; and one workflow
		 * retried under each of its spellings, which must share one loop budget.
		 */
		const errands = async (cred: CredName) => {
			const s: Session = { cred, transport: "mcp", failures: 0 };
			try {
				await connect(s);
				for (let i = 0; i < 3; i++) {
					const mark = nonce();
					const args = {
						serviceName: "catalogue",
						environment: "production",
						changes: `${mark} ${"z".repeat(LARGE_ARGUMENT_BYTES)}`,
					};
					issued++;
					await callPlanned(s, { tool: "deploy-changes", args, payloadNonce: mark });
				}
				// A secret pasted into an argument of a call held for approval: neither the approval nor the audit trail may show it.
				issued++;
				await callPlanned(s, {
					tool: "deploy-changes",
					args: { serviceName: `catalogue ${PASTED_SECRET}`, environment: "production", changes: `${nonce()} rotate` },
				});
				for (const workflowId of [...workflowVariants(LOOPED_WORKFLOW), ...workflowVariants(LOOPED_WORKFLOW)]) {
					issued++;
					await callPlanned(s, { tool: "retry-workflow", args: { workflowId } });
				}
			} catch (error) {
				obs.clientErrors.push(String(error));
			} finally {
				await endSession(s);
			}
		};

		// A viewer credential of principal dave presents the admin credential's session ids.
		const hijack = async (cred: CredName, transport: "mcp" | "sse") => {
			const victims = sessions.filter((x) => x.cred === "daveAdmin" && x.transport === transport && x.sessionId);
			const victim = victims[Math.floor(random() * victims.length)];
			if (!victim) return;
			const mark = nonce();
			const args = { content: `${mark} published through a borrowed session`, channel: "blog" };
			obs.hijackHashes.add(argumentsHash(args));
			const path = victim.transport === "mcp" ? "/mcp" : `/sse/message?sessionId=${victim.sessionId}`;
			const headers = mcpHeaders(cred, victim.transport === "mcp" ? { "mcp-session-id": victim.sessionId! } : {});
			const answer = await raw(
				`hijack of a ${victim.transport} session`,
				cred,
				path,
				{ method: "POST", headers, body: toolsCall("publish-content", args) },
				"refused",
			);
			const structured = answer ? jsonRpcResult(answer.body)?.structuredContent : undefined;
			record(
				{ cred },
				{
					tool: "publish-content",
					args,
					payloadNonce: mark,
					protocolRefusal: false,
					via: "raw",
					outcome: structured ? "result" : "transport-error",
					structured,
					text: answer?.body ?? "",
				},
			);
		};

		// Too many streams for one principal at once.
		const sessionCap = async () => {
			const tries = CONFIG.maxSessionsPerPrincipal + 4;
			const controllers = Array.from({ length: tries }, () => new AbortController());
			const opened = await Promise.all(
				controllers.map(async (c) => {
					try {
						const res = await fetch(`${origin}/sse`, {
							headers: { ...auth("mallory"), accept: "text/event-stream" },
							signal: c.signal,
						});
						if (!res.ok || !res.body) {
							obs.raw.push({
								label: "GET /sse over the session cap",
								cred: "mallory",
								status: res.status,
								contentType: res.headers.get("content-type") ?? "",
								body: await res.text(),
								allowOrigin: null,
								expect: "json",
							});
							return false;
						}
						const reader = res.body.getReader();
						const first = await Promise.race([reader.read(), sleep(CALL_TIMEOUT_MS).then(() => undefined)]);
						return Boolean(first && !first.done && new TextDecoder().decode(first.value).includes("endpoint"));
					} catch {
						return false;
					}
				}),
			);
			obs.sessionCap = { tried: tries, opened: opened.filter(Boolean).length };
			for (const c of controllers) c.abort();
		};

		// ------------------------------------------------------------ the crash
		let crashed = false;
		let issuedBeforeDriving = 0;
		const crashIfDue = async () => {
			if (crashed) return;
			const driven = issued - issuedBeforeDriving;
			const due = driven >= (options.calls - issuedBeforeDriving) * killAt || Date.now() - drivingFrom >= options.seconds * 1000 * killAt;
			if (!due) return;
			crashed = true;
			let ready!: () => void;
			up = new Promise<void>((r) => (ready = r));
			const killedAt = Date.now();
			log(`soak: SIGKILL of wrangler's process group after ${issued} calls`);
			down = true;
			restarts++;
			await server!.kill();
			firstRunLog = server!.output();
			phase = "after";
			// SSE streams died with the process: their clients notice and reconnect.
			for (const s of sessions) if (s.transport === "sse") void s.client?.close().catch(() => {});
			server = await startDevServer({ vars: vars("after"), persistTo, port: server!.port });
			// The time the Worker was down does not count against --seconds.
			deadline += Date.now() - killedAt;
			log(`soak: restarted on the same state in ${((Date.now() - killedAt) / 1000).toFixed(1)} s (${DEMOTED} is now a viewer)`);
			down = false;
			ready();
		};

		// ------------------------------------------------------------ drivers
		const count = Math.max(options.sessions ?? SESSION_PLAN.length, 1);
		for (let i = 0; i < count; i++) {
			const [cred, transport] = SESSION_PLAN[i % SESSION_PLAN.length];
			sessions.push({ cred, transport, failures: 0 });
		}
		await Promise.all(sessions.map((s) => connect(s).catch((e) => obs.clientErrors.push(String(e)))));
		log(`soak: ${sessions.filter((s) => s.client).length} sessions open after ${((Date.now() - started) / 1000).toFixed(1)} s`);
		drivingFrom = Date.now();
		deadline = drivingFrom + options.seconds * 1000;

		const listedAfter = new Set<Session>();
		const drive = async (s: Session) => {
			while (take()) {
				await crashIfDue();
				if (!s.client) await reconnect(s);
				if (!s.client) continue;
				if (phase === "after" && s.cred === DEMOTED && !listedAfter.has(s)) {
					listedAfter.add(s);
					try {
						const { tools } = await s.client.listTools(undefined, { timeout: CALL_TIMEOUT_MS });
						obs.listedAfterRoleChange.push({ cred: s.cred, role: roleOf(s.cred), tools: tools.map((t) => t.name) });
					} catch (error) {
						listedAfter.delete(s);
						obs.clientErrors.push(String(error));
					}
				}
				// An agent thinks between calls.
				await sleep(random() * 400);
				if (random() < 0.1) {
					await probe(s);
					continue;
				}
				if (await callTool(s)) {
					s.failures = 0;
					continue;
				}
				// No answer: the crash, or a session the server no longer knows. A
				// Streamable HTTP session may outlive the crash (its state is kept),
				// so it is tried once more before a new one is opened.
				await up;
				if (s.transport === "sse" || ++s.failures >= 2) {
					s.failures = 0;
					await reconnect(s);
				}
			}
		};
		await hostileRound("before the crash");
		issuedBeforeDriving = issued;
		await Promise.all(sessions.map(drive));
		if (crashed) await hostileRound("after the restart");
		const drivenFor = (Date.now() - drivingFrom) / 1000;
		await sessionCap();
		log(`soak: ${issued} calls in ${drivenFor.toFixed(1)} s; settling the audit trail`);

		// ------------------------------------------------------------ the evidence
		await Promise.all(sessions.map(async (s) => await s.client?.close().catch(() => {})));
		const wanted = new Set(returnedRequestIds(obs.calls));
		const settleBy = Date.now() + (options.settleSeconds ?? 90) * 1000;
		for (;;) {
			const export_ = await readAudit(origin, CREDS[ADMIN].token);
			obs.audit = export_.rows;
			obs.auditText = export_.text;
			obs.auditComplete = export_.complete;
			const have = new Set(obs.audit.map((r) => r.request_id));
			const missing = [...wanted].filter((id) => !have.has(id)).length;
			if (missing === 0 || Date.now() > settleBy) break;
			await sleep(2000);
		}
		obs.approvals = await readApprovals(origin, CREDS[ADMIN].token);
		const health = await fetch(`${origin}/health`).catch(() => undefined);
		obs.health = { status: health?.status ?? 0, body: (await health?.text()) ?? "" };
		obs.serverLog = `${firstRunLog}\n${server.output()}`;
		obs.stage0Answers = stage0.answers;
		obs.stage0Checks = stage0.received.map((r) => {
			const tool = r.body.context?.current_tool;
			return { tool: typeof tool === "string" ? tool : "", body: JSON.stringify(r.body) };
		});
		obs.redirectsGiven = chaos.counts.get("redirect") ?? 0;
		obs.allowLikeFaultsGiven = attacker.hits.length + (chaos.counts.get("oversized") ?? 0);
		obs.attacker = { hits: attacker.hits.length, gotKey: attacker.hits.some((h) => h.gotSecret), allowIds: attacker.allowIds };

		const results = obs.calls.filter((c) => c.outcome === "result");
		const stats = {
			seed,
			calls: issued,
			seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
			driven_seconds: Number(drivenFor.toFixed(1)),
			sessions: sessions.length,
			tool_results: results.length,
			executed: results.filter((c) => c.structured?.executed === true).length,
			protocol_refusals: obs.calls.filter((c) => c.outcome === "protocol-error").length,
			transport_errors: obs.calls.filter((c) => c.outcome === "transport-error").length,
			raw_requests: obs.raw.length,
			stage0_answers: stage0.answers.size,
			stage0_checks: stage0.received.length,
			redirect_target_hits: attacker.hits.length,
			stage0_behaviours: [...chaos.counts].map(([k, n]) => `${k}:${n}`).join(","),
			audit_records: obs.audit.length,
			stage0_timeouts: results.filter((c) => String(c.structured?.reason).includes("did not answer within")).length,
			max_stage0_latency_ms: Math.max(0, ...obs.audit.map((r) => r.latency_ms ?? 0)),
		};
		if (process.env.SOAK_DUMP)
			writeFileSync(
				process.env.SOAK_DUMP,
				JSON.stringify(
					{
						calls: obs.calls.map((c) => ({ ...c, args: JSON.stringify(c.args).slice(0, 300) })),
						raw: obs.raw,
						audit: obs.audit,
						answers: [...stage0.answers],
					},
					null,
					1,
				),
			);
		return { invariants: checkInvariants(obs), stats };
	} finally {
		await Promise.all(sessions.map(async (s) => await s.client?.close().catch(() => {})));
		await server?.stop();
		await stage0?.close();
		await attacker?.close();
		rmSync(persistTo, { recursive: true, force: true });
	}
}

export function formatReport(report: SoakReport): string {
	const lines = [
		`soak: ${Object.entries(report.stats)
			.map(([k, v]) => `${k}=${v}`)
			.join(" ")}`,
	];
	for (const i of report.invariants)
		lines.push(`${i.pass ? "PASS" : "FAIL"}  ${i.name}${i.items ? ` [issue 8: ${i.items}]` : ""}\n      ${i.detail}`);
	const failed = report.invariants.filter((i) => !i.pass).length;
	lines.push(
		failed ? `soak: ${failed} of ${report.invariants.length} invariants FAILED` : `soak: all ${report.invariants.length} invariants passed`,
	);
	return lines.join("\n");
}

async function readAudit(origin: string, adminToken: string) {
	try {
		const res = await fetch(`${origin}/api/audit?format=ndjson`, {
			headers: { authorization: `Bearer ${adminToken}` },
			signal: AbortSignal.timeout(30_000),
		});
		const text = await res.text();
		if (!res.ok) return { rows: [], text, complete: false };
		const rows = text
			.split("\n")
			.filter((l) => l.trim())
			.map((l) => JSON.parse(l));
		return { rows, text, complete: true };
	} catch {
		return { rows: [], text: "", complete: false };
	}
}

/** Every approval, following the API's paging (next_cursor) where it offers one. */
async function readApprovals(origin: string, adminToken: string): Promise<Observations["approvals"]> {
	const pages: string[] = [];
	const ids = new Set<string>();
	let cursor: string | null = null;
	for (let page = 0; page < 1000; page++) {
		const url = new URL(`${origin}/api/approvals`);
		url.searchParams.set("limit", "100");
		if (cursor) url.searchParams.set("cursor", cursor);
		let res: Response;
		try {
			res = await fetch(url, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(30_000) });
		} catch (error) {
			return { pages, ids, error: `GET /api/approvals failed: ${String(error)}` };
		}
		const text = await res.text();
		pages.push(text);
		if (!res.ok) return { pages, ids, error: `GET /api/approvals: HTTP ${res.status}` };
		const json = JSON.parse(text) as { approvals?: { id: string }[]; next_cursor?: string | null };
		for (const a of json.approvals ?? []) ids.add(a.id);
		cursor = json.next_cursor ?? null;
		if (!cursor) break;
	}
	return { pages, ids };
}

/** The result of a JSON-RPC answer, as JSON or as one SSE event. */
function jsonRpcResult(body: string): Pick<ToolResult, "structuredContent"> | undefined {
	const candidates = [
		body,
		...body
			.split("\n")
			.filter((l) => l.startsWith("data:"))
			.map((l) => l.slice(5)),
	];
	for (const c of candidates) {
		try {
			const json = JSON.parse(c) as { result?: ToolResult } | null;
			if (json?.result) return json.result;
		} catch {}
	}
	return undefined;
}
