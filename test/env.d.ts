// What `cloudflare:workers` gives tests: this Worker's handler and bindings.
declare namespace Cloudflare {
	interface Exports {
		default: { fetch(request: Request): Promise<Response> };
	}
	interface Env {
		MCP_OBJECT: DurableObjectNamespace;
		APPROVALS: DurableObjectNamespace<import("../src/state/approval-store").ApprovalStore>;
	}
}
