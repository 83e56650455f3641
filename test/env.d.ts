// What `cloudflare:workers` gives tests: this Worker's handler and bindings.
declare namespace Cloudflare {
	interface Exports {
		default: { fetch(request: Request): Promise<Response> };
	}
	interface Env {
		MCP_OBJECT: DurableObjectNamespace;
		APPROVALS: DurableObjectNamespace<import("../src/state/approval-store").ApprovalStore>;
		BUDGETS: DurableObjectNamespace<import("../src/state/budget-store").BudgetStore>;
		AUDIT_LOG: DurableObjectNamespace<import("../src/state/audit-log").AuditLog>;
		BROWSER_SESSIONS: DurableObjectNamespace<import("../src/state/browser-session-store").BrowserSessionStore>;
		OAUTH_KV: KVNamespace;
	}
}
