/**
 * An MCP client's published Client ID Metadata Document, for workerd tests:
 * served from Node as the Worker's outbound service, at an https URL (CIMD
 * requires one), the way a hosted client such as Claude publishes its own.
 */
export const CIMD_CLIENT_ID = "https://mcp-client.test/oauth/client-metadata.json";
export const CIMD_REDIRECT_URI = "http://127.0.0.1:33418/oauth/callback";

export function mcpClientHostsOutbound() {
	return async (request: Request): Promise<Response> => {
		if (request.url === CIMD_CLIENT_ID) {
			return Response.json(
				{
					client_id: CIMD_CLIENT_ID,
					client_name: "Published Test Client",
					client_uri: "https://mcp-client.test",
					redirect_uris: [CIMD_REDIRECT_URI],
					grant_types: ["authorization_code", "refresh_token"],
					response_types: ["code"],
					token_endpoint_auth_method: "none",
				},
				{ headers: { "cache-control": "no-store" } },
			);
		}
		return new Response("not found", { status: 404 });
	};
}
