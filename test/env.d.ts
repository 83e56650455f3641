// What `cloudflare:workers` gives tests besides the generated Env (worker-configuration.d.ts): this Worker's handler.
declare namespace Cloudflare {
	interface Exports {
		default: { fetch(request: Request): Promise<Response> };
	}
}
