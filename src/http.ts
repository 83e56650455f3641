/** Small HTTP helpers for the Worker entry. */

/** The largest request body accepted on the MCP endpoints. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A JSON error for people and programs: `{ error: code, message }`. */
export function jsonError(status: number, code: string, message: string, headers?: HeadersInit): Response {
	return Response.json({ error: code, message }, { status, headers });
}

export function jsonRpcError(status: number, code: number, message: string): Response {
	return Response.json({ jsonrpc: "2.0", id: null, error: { code, message } }, { status });
}

/**
 * Returns the request with its body known to be at most `max` bytes, or null.
 * A declared Content-Length is trusted (the runtime enforces it); a body
 * without one is read up to the limit and no further.
 */
export async function limitBody(request: Request, max: number): Promise<Request | null> {
	if (!request.body) return request;
	const declared = request.headers.get("content-length");
	if (declared !== null) return Number(declared) > max ? null : request;

	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > max) {
			await reader.cancel();
			return null;
		}
		chunks.push(value);
	}
	const body = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		body.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return new Request(request, { body });
}
