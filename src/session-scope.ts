/**
 * Binds MCP sessions to the principal that opened them.
 *
 * McpAgent names a session's Durable Object `<transport>:<sessionId>` from the
 * Mcp-Session-Id header, which any client can send. Appending the principal to
 * the name (`<transport>:<sessionId>:<principal>`) means a session id is only
 * meaningful together with the credentials that created it. McpAgent reads the
 * transport and session id from the first two segments, so it is unaffected.
 */
export function sessionNamespaceFor(namespace: DurableObjectNamespace, principal: string): DurableObjectNamespace {
	const scope = encodeURIComponent(principal); // no ':' can reach the name
	return new Proxy(namespace, {
		get(target, property) {
			if (property === "idFromName") return (name: string) => target.idFromName(`${name}:${scope}`);
			const value = Reflect.get(target, property, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}
