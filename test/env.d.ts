// What `cloudflare:workers` exports in tests: this Worker's default handler.
declare namespace Cloudflare {
	interface Exports {
		default: { fetch(request: Request): Promise<Response> };
	}
}
