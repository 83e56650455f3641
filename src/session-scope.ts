/**
 * Binds MCP sessions to the exact credential that opened them.
 *
 * McpAgent names a session's Durable Object `<transport>:<sessionId>` from the
 * Mcp-Session-Id header (or the sessionId query of /sse/message), which any
 * client can send. Appending the credential (the SHA-256 of the bearer token,
 * `loopback` for the token-less local caller; later an OAuth grant id) to the
 * name means a session id is meaningful only with the credential that created
 * it: another token of the same principal, with another role, reaches a
 * different, empty object ("session not found"). McpAgent reads the transport
 * and session id from the first two segments, so it is unaffected.
 *
 * A new session's id is chosen by the Worker (`newSessionId`), so it can be
 * counted against the principal before the session exists.
 */
export function sessionNamespaceFor<T extends Rpc.DurableObjectBranded | undefined>(
	namespace: DurableObjectNamespace<T>,
	credential: string,
	newSessionId?: string,
): DurableObjectNamespace<T> {
	const scope = encodeURIComponent(credential); // no ':' can reach the name
	return new Proxy(namespace, {
		get(target, property) {
			if (property === "idFromName") return (name: string) => target.idFromName(`${name}:${scope}`);
			// McpAgent takes a new session's id from newUniqueId().toString().
			if (property === "newUniqueId" && newSessionId) return () => ({ toString: () => newSessionId });
			const value = Reflect.get(target, property, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

/** A fresh session id: 64 hex digits, unguessable. */
export function newSessionId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(32));
	return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
