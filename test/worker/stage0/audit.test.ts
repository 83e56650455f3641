/** Every decision leaves exactly one audit record, written before the action runs. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { call, connect } from "../support/mcp";
import { auditLogOf } from "../../../src/state/bindings";
import { mockStage0, stage0Answer, loopbackClient } from "../support/stage0";

const log = () => auditLogOf(env, "local");
const records = () => log().query({ principal: "local", limit: 1000 });
/** Sessions ship final records a few milliseconds after the call: wait for `n` of them. */
async function recordsReaching(n: number) {
	await expect.poll(async () => (await records()).length, { timeout: 3000 }).toBeGreaterThanOrEqual(n);
	return records();
}
/** The session's own Durable Object (sessions are scoped to their principal). */
const sessionObject = (c: Client) =>
	env.MCP_OBJECT.get(env.MCP_OBJECT.idFromName(`streamable-http:${(c.transport as { sessionId?: string }).sessionId}:loopback`));

const answer = (verdict: "ALLOW" | "DENY" | "DEFER", request_id: string) => () =>
	stage0Answer(verdict, { reason: `because ${verdict}`, request_id, policy_version: "acme-7", risk_score: 33 });

const loopback = loopbackClient();

describe("audit trail", () => {
	it("records ALLOW, DENY, DEFER and a fault once each, with who, what, which policy and the outcome", async () => {
		const logLines: string[] = [];
		const realLog = console.log;
		vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
			logLines.push(String(args[0]));
			realLog(...args);
		});
		const before = (await records()).length;
		mockStage0(answer("ALLOW", "req-allow"));
		await call(loopback.client, "research-topic", { topic: "audit trails" });
		mockStage0(answer("DENY", "req-deny"));
		await call(loopback.client, "publish-content", { content: "secret plans", channel: "blog" });
		mockStage0(answer("DEFER", "req-defer"));
		await call(loopback.client, "check-authorization", {
			goal: "Rotate the signing keys",
			sideEffects: ["deploy"],
			successCriteria: ["rotated"],
		});
		mockStage0(() => new Response("down", { status: 503 }));
		await call(loopback.client, "deploy-changes", { serviceName: "api", environment: "staging", changes: "v3" });

		const all = await recordsReaching(before + 4);
		expect(all).toHaveLength(before + 4);
		const byTool = Object.fromEntries(all.slice(0, 4).map((r) => [r.tool, r]));
		expect(byTool["research-topic"]).toMatchObject({
			request_id: "req-allow",
			policy_version: "acme-7",
			source: "stage0",
			principal: "local",
			role: "developer",
			verdict: "ALLOW",
			decision: "GO",
			reason: "because ALLOW",
			risk_score: 33,
			outcome: "executed",
			arguments: null,
			args_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
			session_id: expect.any(String),
			completed_at: expect.any(String),
		});
		expect(byTool["research-topic"].latency_ms).toBeGreaterThanOrEqual(0);
		expect(byTool["publish-content"]).toMatchObject({ request_id: "req-deny", verdict: "DENY", outcome: "not_run" });
		expect(byTool["check-authorization"]).toMatchObject({ request_id: "req-defer", verdict: "DEFER", outcome: "not_run" });
		expect(byTool["deploy-changes"]).toMatchObject({ source: "fault", decision: "ERROR", outcome: "not_run" });
		expect(byTool["deploy-changes"].reason).toMatch(/HTTP 503/);
		// arguments are not stored unless AUDIT_STORE_ARGUMENTS=true
		expect(JSON.stringify(all)).not.toContain("secret plans");

		// one structured log line per decision, without the arguments
		const lines = logLines.filter((l) => l.startsWith('{"event":"guard.decision"')).map((l) => JSON.parse(l));
		expect(lines.map((l) => l.request_id)).toEqual(expect.arrayContaining(["req-allow", "req-deny", "req-defer"]));
		expect(lines).toHaveLength(4);
		expect(logLines.join("\n")).not.toContain("secret plans");
	});

	it("records the local rule's decisions too", async () => {
		const before = (await records()).length;
		const r = await call(loopback.client, "deploy-changes", { serviceName: "api", environment: "production", changes: "v3" });
		const all = await recordsReaching(before + 1);
		expect(all).toHaveLength(before + 1);
		expect(all[0]).toMatchObject({
			source: "local-rule",
			verdict: "DEFER",
			request_id: r.structuredContent.request_id,
			outcome: "not_run",
		});
	});

	it("fails closed when the write-ahead record cannot be written: the action does not run", async () => {
		mockStage0(answer("ALLOW", "req-unrecorded"));
		const session = sessionObject(loopback.client);
		await runInDurableObject(session, (_i, state) => state.storage.sql.exec("ALTER TABLE audit_outbox RENAME TO audit_outbox_away"));
		try {
			const r = await call(loopback.client, "research-topic", { topic: "anything" });
			expect(r.isError).toBe(true);
			expect(r.structuredContent).toMatchObject({ decision: "ERROR", executed: false });
			expect(r.structuredContent).not.toHaveProperty("result");
			expect(r.content[0].text).toMatch(/audit trail/);
		} finally {
			await runInDurableObject(session, (_i, state) => state.storage.sql.exec("ALTER TABLE audit_outbox_away RENAME TO audit_outbox"));
		}
	});

	it("keeps records the audit log could not take, and ships them later", async () => {
		mockStage0(answer("ALLOW", "req-delayed"));
		const stub = log();
		const before = (await records()).length;
		await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("ALTER TABLE records RENAME TO records_away"));
		const session = sessionObject(loopback.client);
		try {
			// the audit log is down, but the decision is durable in the session: the call goes ahead
			const r = await call(loopback.client, "research-topic", { topic: "resilience" });
			expect(r.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
			await new Promise((resolve) => setTimeout(resolve, 100));
			const waiting = await runInDurableObject(
				session,
				(_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM audit_outbox").one().n,
			);
			expect(waiting).toBe(1);
		} finally {
			await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("ALTER TABLE records_away RENAME TO records"));
		}
		// its durable wake-up ships it
		await runInDurableObject(session, (instance) => (instance as unknown as { shipAuditOutbox(): Promise<void> }).shipAuditOutbox());
		const all = await recordsReaching(before + 1);
		expect(all[0]).toMatchObject({ request_id: "req-delayed", outcome: "executed" });
	});

	it("asks the scheduler for the outbox's durable wake-up once, not on every call", async () => {
		const fresh = await connect();
		try {
			const session = sessionObject(fresh);
			mockStage0(answer("ALLOW", "req-wake-up"));
			const before = (await records()).length;
			await call(fresh, "research-topic", { topic: "wake-ups" });
			await recordsReaching(before + 1);
			type Scheduling = { schedule(...args: unknown[]): Promise<unknown>; getSchedules(): { callback: string }[] };
			const asked = await runInDurableObject(session, (instance) => {
				const spy = vi.spyOn(instance as unknown as Scheduling, "schedule");
				return () => spy.mock.calls.length;
			});
			const topics = ["one", "two", "three"];
			for (const [i, topic] of topics.entries()) {
				await call(fresh, "research-topic", { topic });
				// each record ships before the next call, as in a quiet session
				await recordsReaching(before + 2 + i);
			}
			expect(asked()).toBe(0);
			const wakeUps = await runInDurableObject(session, (instance) =>
				(instance as unknown as Scheduling).getSchedules().filter((s) => s.callback === "shipAuditOutbox"),
			);
			expect(wakeUps).toHaveLength(1);
		} finally {
			await fresh.close();
		}
	});

	it("asks again at the next call when the wake-up could not be scheduled", async () => {
		const fresh = await connect();
		try {
			const session = sessionObject(fresh);
			mockStage0(answer("ALLOW", "req-wake-up-lost"));
			const before = (await records()).length;
			await call(fresh, "research-topic", { topic: "first" });
			await recordsReaching(before + 1);
			type Scheduling = { schedule(...args: unknown[]): Promise<unknown>; getSchedules(): { callback: string }[] };
			const asked = await runInDurableObject(session, (instance) => {
				const scheduling = instance as unknown as Scheduling;
				// the scheduler fails once, the next time it is asked
				const spy = vi.spyOn(scheduling, "schedule").mockRejectedValueOnce(new Error("scheduler down"));
				return { spy, wokeUp: () => (instance as unknown as { shipAuditOutbox(): Promise<void> }).shipAuditOutbox() };
			});
			await asked.wokeUp();
			await call(fresh, "research-topic", { topic: "second" }); // asks, and the scheduler fails
			await call(fresh, "research-topic", { topic: "third" }); // asks again
			await recordsReaching(before + 3);
			expect(asked.spy).toHaveBeenCalledTimes(2);
		} finally {
			await fresh.close();
		}
	});

	it("prunes records past AUDIT_RETENTION_DAYS when its alarm runs", async () => {
		const stub = log();
		const before = await records();
		expect(before.length).toBeGreaterThan(2);
		const old = before.slice(-2).map((r) => r.seq);
		await runInDurableObject(stub, (_i, state) => {
			for (const seq of old) state.storage.sql.exec("UPDATE records SET at = ? WHERE seq = ?", Date.now() - 31 * 86_400_000, seq);
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		const after = await records();
		expect(after).toHaveLength(before.length - 2);
		expect(after.map((r) => r.seq)).not.toContain(old[0]);
		// and it will come back for the rest
		await runInDurableObject(stub, async (_i, state) => expect(await state.storage.getAlarm()).not.toBeNull());
	});
});
