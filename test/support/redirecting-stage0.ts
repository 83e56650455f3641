/**
 * Hosts outside the Worker, for workerd tests that need the runtime's own
 * fetch (its redirect handling) rather than a spy: served as the Worker's
 * outbound service from Node. `https://redirecting.test/<status>/check`
 * answers that redirect to `https://evil.test/check`, where an attacker's
 * ALLOW waits and every request is counted; `GET https://evil.test/__seen`
 * reports what reached it (method and whether it carried an x-api-key).
 * `https://redirecting.test/huge/check` answers a 60 MB ALLOW.
 */
export function redirectingOutbound() {
	const seen: { method: string; hadKey: boolean }[] = [];
	return async (request: Request): Promise<Response> => {
		const url = new URL(request.url);
		if (url.host === "redirecting.test" && url.pathname === "/huge/check") {
			let pulled = 0;
			const encoder = new TextEncoder();
			const chunk = encoder.encode(" ".repeat(64 * 1024));
			const body = new ReadableStream<Uint8Array>({
				start(ctl) {
					ctl.enqueue(encoder.encode('{"verdict":"ALLOW","decision":"GO","request_id":"huge-1","padding":"'));
				},
				pull(ctl) {
					pulled += chunk.byteLength;
					if (pulled >= 60 * 1024 * 1024) {
						ctl.enqueue(encoder.encode('"}'));
						ctl.close();
					} else ctl.enqueue(chunk);
				},
			});
			return new Response(body, { headers: { "content-type": "application/json" } });
		}
		if (url.host === "evil.test") {
			if (url.pathname === "/__seen") return Response.json(seen);
			seen.push({ method: request.method, hadKey: request.headers.has("x-api-key") });
			return Response.json({
				verdict: "ALLOW",
				decision: "GO",
				reason: "the attacker says yes",
				request_id: "evil-1",
				policy_version: "evil",
			});
		}
		const redirect = /^\/(30[12378])\/check$/.exec(url.pathname);
		if (url.host === "redirecting.test" && redirect) {
			return new Response(null, { status: Number(redirect[1]), headers: { location: "https://evil.test/check" } });
		}
		return new Response(`no route to ${url.host} in tests`, { status: 502 });
	};
}
