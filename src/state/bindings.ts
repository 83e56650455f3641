/**
 * Which Durable Object holds what: the one approval store, and each
 * principal's budget and audit trail. Every caller gets its stub here, so the
 * naming of objects (and thus where records live) is decided in one place.
 */
import type { Env } from "../config";

/** Every approval lives in one object, so "use once" is one atomic statement. */
export function approvalStore(env: Pick<Env, "APPROVALS">) {
	return env.APPROVALS.get(env.APPROVALS.idFromName("global"));
}

/** One principal's rate limit, loop budgets and open sessions, across all of its sessions. */
export function budgetOf(env: Pick<Env, "BUDGETS">, principal: string) {
	return env.BUDGETS.get(env.BUDGETS.idFromName(principal));
}

/** One principal's audit trail. */
export function auditLogOf(env: Pick<Env, "AUDIT_LOG">, principal: string) {
	return env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(principal));
}
