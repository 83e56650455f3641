import { describe, expect, it } from "vitest";
import type { Authority } from "../../src/guard/decision";
import type { Verdict } from "../../src/guard/enums";
import { type GuardDeps, type GuardedTool, guardedCall } from "../../src/guard/pipeline";
import { err, ok } from "../../src/guard/result";
import { SimulatedAuthority } from "../../src/guard/simulated-authority";
import { loadPolicy } from "../../src/policy/node";
import { scriptedAuthority } from "../support/authorities";

/** The bundled default policy set, as the server loads it. */
const bundled = loadPolicy();

const scripted = (verdict: Verdict) => scriptedAuthority(verdict);

function memoryLoops() {
	const counts = new Map<string, number>();
	return {
		reserveLoopAttempt(tool: string, key: string) {
			const n = (counts.get(`${tool}/${key}`) ?? 0) + 1;
			counts.set(`${tool}/${key}`, n);
			return n;
		},
	};
}

const deps = (authority: Authority, over: Partial<GuardDeps> = {}): GuardDeps => ({
	authority,
	policy: bundled,
	loops: memoryLoops(),
	maxRetries: 3,
	runtime: { principal: "alice", role: "developer", sessionId: "s-1" },
	...over,
});

function spyTool(over: Partial<GuardedTool<{ x: string }, { ran: string }>> = {}) {
	const runs: string[] = [];
	const tool: GuardedTool<{ x: string }, { ran: string }> = {
		name: "do-thing",
		kind: "action",
		sideEffects: ["publish"],
		intent: ({ x }) => ({ goal: `Do the thing with ${x}`, success_criteria: ["done"], side_effects: ["publish"] }),
		run: ({ x }) => {
			runs.push(x);
			return { ran: x };
		},
		...over,
	};
	return { tool, runs };
}

describe("guardedCall", () => {
	it("runs the action after an ALLOW, and only then", async () => {
		for (const verdict of ["ALLOW", "DENY", "DEFER"] as const) {
			const { tool, runs } = spyTool();
			const out = await guardedCall(tool, { x: "a" }, deps(scripted(verdict)));
			expect(runs).toEqual(verdict === "ALLOW" ? ["a"] : []);
			expect(out.action.status).toBe(verdict === "ALLOW" ? "executed" : "not_run");
		}
	});

	it("sends the runtime facts the agent cannot overwrite", async () => {
		const authority = scripted("ALLOW");
		const { tool } = spyTool({
			intent: () => ({
				goal: "Do the thing",
				success_criteria: ["done"],
				side_effects: [],
				context: { actor_id: "mallory", current_tool: "research-topic", environment: "staging" },
			}),
		});
		await guardedCall(tool, { x: "a" }, deps(authority));
		expect(authority.seen[0].context).toMatchObject({
			actor_id: "alice",
			current_tool: "do-thing",
			run_id: "s-1",
			environment: "staging",
		});
		expect(authority.seen[0].tools).toEqual(["do-thing"]);
	});

	it("never runs a query tool, whatever the verdict", async () => {
		const { tool, runs } = spyTool({ kind: "query" });
		await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW")));
		expect(runs).toEqual([]);
	});

	it("fails closed when the authority throws", async () => {
		const { tool, runs } = spyTool();
		const broken: Authority = {
			mode: "stage0",
			check: () => Promise.reject(new Error("boom")),
		};
		const out = await guardedCall(tool, { x: "a" }, deps(broken));
		expect(runs).toEqual([]);
		expect(out.decision).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
	});

	it("reports an allowed action that failed, without hiding the verdict", async () => {
		const { tool } = spyTool({
			run: () => {
				throw new Error("disk full");
			},
		});
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW")));
		expect(out.decision.verdict).toBe("ALLOW");
		expect(out.action).toEqual({ status: "failed", error: "disk full" });
	});
});

describe("guardedCall: loop tools", () => {
	const loopTool = (claimed?: number) =>
		spyTool({
			intent: () => ({ goal: "Retry the failing workflow", success_criteria: ["ok"], side_effects: ["loop"] }),
			loop: { key: ({ x }) => x, claimedRetryCount: () => claimed },
		});

	it("counts attempts itself and defers from attempt maxRetries + 1, without asking", async () => {
		const authority = scripted("ALLOW");
		const d = deps(authority); // maxRetries 3
		const { tool, runs } = loopTool();
		const verdicts = [];
		for (let i = 0; i < 5; i++) verdicts.push((await guardedCall(tool, { x: "wf" }, d)).decision.verdict);
		expect(verdicts).toEqual(["ALLOW", "ALLOW", "ALLOW", "DEFER", "DEFER"]);
		expect(runs).toHaveLength(3);
		expect(authority.seen.map((r) => r.context.retry_count)).toEqual([0, 1, 2]);
		expect(authority.seen[0].constraints).toContain("max_retries: 3");
	});

	it("lets the agent's count raise the server's, never lower it", async () => {
		const authority = scripted("ALLOW");
		const d = deps(authority);
		const { tool } = loopTool(0);
		for (let i = 0; i < 3; i++) await guardedCall(tool, { x: "wf" }, d);
		const fourth = await guardedCall(tool, { x: "wf" }, d);
		expect(fourth.decision.verdict).toBe("DEFER");
		expect(fourth.decision.issues[0].code).toBe("LOOP_THRESHOLD_EXCEEDED");

		const high = await guardedCall(loopTool(7).tool, { x: "other" }, d);
		expect(high.decision.verdict).toBe("DEFER");
		expect(high.attempt).toMatchObject({ number: 1, retry_count: 7 });
	});

	it("says which count is the agent's claim and which the server counted", async () => {
		const d = deps(scripted("ALLOW")); // maxRetries 3
		const first = await guardedCall(loopTool(9).tool, { x: "claimed" }, d);
		expect(first.decision.verdict).toBe("DEFER");
		expect(first.attempt).toEqual({ number: 1, retry_count: 9, max_retries: 3, counted_retries: 0, claimed_retry_count: 9 });
		expect(first.decision.reason).toContain("the agent says this workflow has been retried 9 times (its retryCount)");
		expect(first.decision.reason).toContain("the server counted 0 earlier attempts");
		expect(first.decision.reason).not.toMatch(/has been retried 9 times \(counted/);
		expect(first.decision.issues[0].message).toContain("claimed by the agent; the server counted 0");

		const { tool } = loopTool();
		for (let i = 0; i < 3; i++) await guardedCall(tool, { x: "counted" }, d);
		const fourth = await guardedCall(tool, { x: "counted" }, d);
		expect(fourth.attempt).toEqual({ number: 4, retry_count: 3, max_retries: 3, counted_retries: 3 });
		expect(fourth.decision.reason).toContain("this workflow has been retried 3 times (counted by the server,");
	});

	it("keeps separate counts per loop key", async () => {
		const d = deps(new SimulatedAuthority());
		const { tool } = loopTool();
		for (let i = 0; i < 3; i++) await guardedCall(tool, { x: "a" }, d);
		expect((await guardedCall(tool, { x: "b" }, d)).decision.verdict).toBe("ALLOW");
	});

	it("fails closed when the counter cannot be written", async () => {
		const { tool, runs } = loopTool();
		const out = await guardedCall(
			tool,
			{ x: "a" },
			deps(scripted("ALLOW"), {
				loops: {
					reserveLoopAttempt: () => {
						throw new Error("storage down");
					},
				},
			}),
		);
		expect(out.decision.decision).toBe("ERROR");
		expect(runs).toEqual([]);
	});
});

describe("guardedCall: roles, claims and approvals", () => {
	function memoryDesk() {
		const tickets: { id: string; kind: string; argsHash: string; principal: string; tool: string; status: string }[] = [];
		return {
			tickets,
			async open(r: { kind: string; argsHash: string; principal: string; tool: string }) {
				const id = crypto.randomUUID();
				tickets.push({ id, kind: r.kind, argsHash: r.argsHash, principal: r.principal, tool: r.tool, status: "pending" });
				return { id, status: "pending" as const, expires_at: "2030-01-01T00:00:00.000Z", url: `https://x/approvals#${id}` };
			},
			async consume(id: string, e: { principal: string; tool: string; argsHash: string }) {
				const t = tickets.find((t) => t.id === id);
				if (!t || t.status !== "approved" || t.principal !== e.principal || t.tool !== e.tool || t.argsHash !== e.argsHash)
					return err("not usable");
				t.status = "used";
				return ok({ id, approved_by: "bob", approved_at: "2026-11-26T00:00:00.000Z" });
			},
		};
	}
	const deployTool = spyTool({
		name: "deploy",
		sideEffects: ["deploy"],
		intent: ({ x }) => ({
			goal: `Deploy ${x} to production`,
			success_criteria: ["ok"],
			context: { environment: "production", actor_role: "admin", approval_status: "approved" },
		}),
		claims: () => ({ role: "admin", approvalStatus: "approved" }),
	});

	it("sends the true role and approval status, whatever the intent or the claims say", async () => {
		const authority = scripted("ALLOW");
		const { tool } = spyTool({
			intent: () => ({
				goal: "Publish it",
				success_criteria: ["ok"],
				context: { actor_role: "admin", approval_status: "approved", approved_by: "me" },
			}),
			claims: () => ({ role: "admin" }),
		});
		const out = await guardedCall(tool, { x: "a" }, deps(authority));
		expect(authority.seen[0].context).toMatchObject({ actor_role: "developer", approval_status: "none" });
		expect(authority.seen[0].context).not.toHaveProperty("approved_by");
		expect(out.notes).toEqual(["claimed role 'admin' ignored: authenticated as 'developer'"]);
	});

	it("holds a production deploy for an approval before asking the authority", async () => {
		const authority = scripted("ALLOW");
		const desk = memoryDesk();
		const out = await guardedCall(deployTool.tool, { x: "api" }, deps(authority, { approvals: desk }));
		expect(authority.seen).toHaveLength(0);
		expect(deployTool.runs).toEqual([]);
		expect(out.decision).toMatchObject({ verdict: "DEFER", source: "local-rule" });
		expect(out.approval?.status).toBe("pending");
		expect(desk.tickets[0]).toMatchObject({ kind: "rule", principal: "alice", tool: "deploy" });
	});

	it("lets an approved call through to the authority once, with the approval in the context", async () => {
		const authority = scripted("ALLOW");
		const desk = memoryDesk();
		const d = deps(authority, { approvals: desk });
		const held = await guardedCall(deployTool.tool, { x: "api" }, d);
		desk.tickets[0].status = "approved";
		const ok = await guardedCall(deployTool.tool, { x: "api", approvalId: held.approval!.id }, d);
		expect(ok.action.status).toBe("executed");
		expect(authority.seen[0].context).toMatchObject({ approval_status: "approved", approved_by: "bob" });
		const again = await guardedCall(deployTool.tool, { x: "api", approvalId: held.approval!.id }, d);
		expect(again.decision.issues[0].code).toBe("APPROVAL_NOT_ACCEPTED");
	});

	it("binds an approval to the exact arguments", async () => {
		const desk = memoryDesk();
		const d = deps(scripted("ALLOW"), { approvals: desk });
		const held = await guardedCall(deployTool.tool, { x: "api" }, d);
		desk.tickets[0].status = "approved";
		const other = await guardedCall(deployTool.tool, { x: "db", approvalId: held.approval!.id }, d);
		expect(other.action.status).toBe("not_run");
	});

	it("never lets an approval lift the authority's DENY, and offers no second approval", async () => {
		const desk = memoryDesk();
		const d = deps(scripted("DENY"), { approvals: desk });
		const held = await guardedCall(deployTool.tool, { x: "api" }, d);
		desk.tickets[0].status = "approved";
		const out = await guardedCall(deployTool.tool, { x: "api", approvalId: held.approval!.id }, d);
		expect(out.decision.verdict).toBe("DENY");
		expect(out.action.status).toBe("not_run");
		expect(out.approval).toBeUndefined();
	});

	it("forbids a viewer outright: no authority, no approval offered", async () => {
		const authority = scripted("ALLOW");
		const desk = memoryDesk();
		const { tool, runs } = spyTool();
		const out = await guardedCall(
			tool,
			{ x: "a" },
			deps(authority, { approvals: desk, runtime: { principal: "v", role: "viewer", sessionId: "s" } }),
		);
		expect(out.decision).toMatchObject({ verdict: "DENY", source: "local-rule" });
		expect(authority.seen).toHaveLength(0);
		expect(desk.tickets).toHaveLength(0);
		expect(runs).toEqual([]);
	});
});

describe("guardedCall: rate limit and audit", () => {
	function memoryAudit(fail = false) {
		const entries: { id: number; entry: Record<string, unknown>; outcome?: string }[] = [];
		return {
			entries,
			async record(entry: Record<string, unknown>) {
				if (fail) throw new Error("disk full");
				entries.push({ id: entries.length + 1, entry });
				return entries.length;
			},
			async complete(id: number, outcome: string) {
				entries[id - 1].outcome = outcome;
			},
		};
	}

	it("writes the decision before the action runs, then its outcome", async () => {
		const audit = memoryAudit();
		let recordedBeforeRun = false;
		const { tool } = spyTool({
			run: () => {
				recordedBeforeRun = audit.entries.length === 1 && audit.entries[0].entry.outcome === "pending";
				return { ran: "yes" };
			},
		});
		await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW"), { audit: audit as never }));
		expect(recordedBeforeRun).toBe(true);
		expect(audit.entries[0].outcome).toBe("executed");
		expect(audit.entries[0].entry).toMatchObject({
			principal: "alice",
			role: "developer",
			session_id: "s-1",
			tool: "do-thing",
			verdict: "ALLOW",
		});
		expect(audit.entries[0].entry).not.toHaveProperty("arguments");
		expect(audit.entries[0].entry.local_policy).toBe(bundled.id);
	});

	it("does not run the action when the audit record cannot be written", async () => {
		const { tool, runs } = spyTool();
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW"), { audit: memoryAudit(true) as never }));
		expect(runs).toEqual([]);
		expect(out.decision).toMatchObject({ decision: "ERROR", source: "fault" });
		expect(out.decision.reason).toMatch(/audit trail/);
	});

	it("refuses a rate-limited call before the authority is asked", async () => {
		const authority = scripted("ALLOW");
		const { tool, runs } = spyTool();
		const out = await guardedCall(
			tool,
			{ x: "a" },
			deps(authority, {
				budget: { admitCall: async () => err({ limit: 5, retryAfterSeconds: 12 }), reserveLoopAttempt: async () => 1 },
			}),
		);
		expect(authority.seen).toHaveLength(0);
		expect(runs).toEqual([]);
		expect(out.decision.issues[0].code).toBe("RATE_LIMITED");
		expect(out.retry_after_seconds).toBe(12);
	});
});

describe("guardedCall: the local policy set", () => {
	const desk = () => {
		const consumed: string[] = [];
		return {
			consumed,
			open: async () => ({
				id: crypto.randomUUID(),
				status: "pending" as const,
				expires_at: "2030-01-01T00:00:00.000Z",
				url: "https://x/approvals",
			}),
			consume: async (id: string) => {
				consumed.push(id);
				return ok({ id, approved_by: "bob", approved_at: "2026-11-26T00:00:00.000Z" });
			},
		};
	};

	it("refuses every call with ERROR when the policy set does not parse, before any approval is used or the authority asked", async () => {
		const broken = loadPolicy("permit (principal, action, resource);\nforbid (principal, action resource);\n");
		const authority = scripted("ALLOW");
		const approvals = desk();
		const { tool, runs } = spyTool({ sideEffects: [], intent: () => ({ goal: "read", success_criteria: ["ok"] }) });
		const out = await guardedCall(
			tool,
			{ x: "a", approvalId: "00000000-0000-4000-8000-000000000000" },
			deps(authority, { policy: broken, approvals }),
		);
		expect(out.decision).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "local-rule", policy_version: broken.id });
		expect(out.decision.reason).toMatch(/line 2, column 27: .*unexpected token `resource`/);
		expect(out.approval).toBeUndefined();
		expect(authority.seen).toHaveLength(0);
		expect(approvals.consumed).toHaveLength(0);
		expect(runs).toEqual([]);
	});

	it("names every determining policy in a refusal, as reason and as issues", async () => {
		const policy = loadPolicy(`@id("all") permit (principal, action, resource);
@id("no-publish") @reason("nobody publishes on this server")
forbid (principal, action, resource) when { resource.sideEffects.contains("publish") };
@id("no-open-world") @reason("tools that reach the outside world are off")
forbid (principal, action, resource) when { resource.openWorld };`);
		const { tool } = spyTool();
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW"), { policy, approvals: desk() }));
		expect(out.decision).toMatchObject({ verdict: "DENY", decision: "NO_GO", policy_version: policy.id });
		expect(out.decision.reason).toContain("local rule 'no-publish': nobody publishes on this server");
		expect(out.decision.reason).toContain("local rule 'no-open-world': tools that reach the outside world are off");
		expect(out.decision.issues.map((i) => i.message)).toEqual([
			"no-publish: nobody publishes on this server",
			"no-open-world: tools that reach the outside world are off",
		]);
		expect(out.approval).toBeUndefined();
	});

	it("says that a set without any permit permits nothing", async () => {
		const policy = loadPolicy('@id("x") forbid (principal, action, resource) when { principal.role == "nobody" };');
		expect(policy.warning).toMatch(/no permit/);
		const { tool } = spyTool({ sideEffects: [], intent: () => ({ goal: "read", success_criteria: ["ok"] }) });
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW"), { policy }));
		expect(out.decision).toMatchObject({ verdict: "DENY", decision: "NO_GO" });
		expect(out.decision.reason).toMatch(/has no permit, so it permits nothing/);
	});

	it("gives the policy the server's retry count, so an agent that leaves out its own count cannot hide a loop", async () => {
		const policy = loadPolicy(`@id("all") permit (principal, action, resource);
@id("two-tries") @reason("a workflow is retried at most twice without a person")
forbid (principal, action, resource) when { context has retryCount && context.retryCount >= 2 } unless { context.approved };`);
		const authority = scripted("ALLOW");
		const { tool, runs } = spyTool({
			sideEffects: ["loop"],
			intent: () => ({ goal: "retry", success_criteria: ["ok"] }),
			loop: { key: ({ x }) => x, claimedRetryCount: () => undefined },
		});
		const d = deps(authority, { policy, maxRetries: 100, approvals: desk() });
		const outcomes = [];
		for (let i = 0; i < 3; i++) outcomes.push(await guardedCall(tool, { x: "wf" }, d));
		expect(outcomes.map((o) => o.decision.verdict)).toEqual(["ALLOW", "ALLOW", "DEFER"]);
		expect(outcomes[2].decision.reason).toMatch(/local rule 'two-tries'/);
		expect(outcomes[2].attempt).toMatchObject({ number: 3, retry_count: 2 });
		expect(outcomes[2].approval?.status).toBe("pending");
		expect(runs).toEqual(["wf", "wf"]);
	});
});

describe("guardedCall: shadow mode", () => {
	function memoryAudit(fail = false) {
		const entries: { entry: Record<string, unknown>; outcome?: string }[] = [];
		return {
			entries,
			async record(entry: Record<string, unknown>) {
				if (fail) throw new Error("disk full");
				entries.push({ entry });
				return entries.length;
			},
			async complete(id: number, outcome: string) {
				entries[id - 1].outcome = outcome;
			},
		};
	}
	const opened: string[] = [];
	const desk = {
		async open() {
			opened.push("ticket");
			return { id: "t", status: "pending" as const, expires_at: "2030-01-01T00:00:00.000Z", url: "https://x/approvals#t" };
		},
		async consume() {
			return err("none");
		},
	};

	it("runs a DENYed call, and records that enforce mode would have blocked it", async () => {
		const { tool, runs } = spyTool();
		const audit = memoryAudit();
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("DENY"), { shadow: true, audit: audit as never, approvals: desk }));
		expect(runs).toEqual(["a"]);
		expect(out.action.status).toBe("executed");
		expect(out.decision.verdict).toBe("DENY");
		expect(out.would_block).toBe(true);
		expect(audit.entries[0].entry).toMatchObject({ verdict: "DENY", mode: "shadow", would_block: true, outcome: "pending" });
		expect(audit.entries[0].outcome).toBe("executed");
		// Nobody is asked to approve a call that has already run.
		expect(out.approval).toBeUndefined();
		expect(opened).toEqual([]);
	});

	it("records would_block false for an ALLOWed call, and runs a call whose decision was a fault", async () => {
		const allowed = await guardedCall(spyTool().tool, { x: "a" }, deps(scripted("ALLOW"), { shadow: true }));
		expect(allowed.would_block).toBe(false);
		const broken: Authority = {
			mode: "stage0",
			async check() {
				throw new Error("boom");
			},
		};
		const { tool, runs } = spyTool();
		const audit = memoryAudit();
		const out = await guardedCall(tool, { x: "b" }, deps(broken, { shadow: true, audit: audit as never }));
		expect(runs).toEqual(["b"]);
		expect(out.decision.source).toBe("fault");
		expect(audit.entries[0].entry).toMatchObject({ source: "fault", would_block: true });
		expect(audit.entries[0].outcome).toBe("executed");
	});

	it("still runs nothing when the decision cannot be written to the audit trail", async () => {
		const { tool, runs } = spyTool();
		const out = await guardedCall(tool, { x: "a" }, deps(scripted("ALLOW"), { shadow: true, audit: memoryAudit(true) as never }));
		expect(runs).toEqual([]);
		expect(out.action.status).toBe("not_run");
	});

	it("leaves enforce mode's records as they were (no mode, no would_block)", async () => {
		const audit = memoryAudit();
		const out = await guardedCall(spyTool().tool, { x: "a" }, deps(scripted("DENY"), { audit: audit as never }));
		expect(out.would_block).toBeUndefined();
		expect(audit.entries[0].entry).not.toHaveProperty("would_block");
		expect(audit.entries[0].entry).not.toHaveProperty("mode");
	});
});
