/**
 * The MCP SDK client's side of OAuth for tests, kept in memory: its metadata (a public client, PKCE, refresh),
 * the registration it got, its tokens and its PKCE verifier. Shared by Node (test/e2e) and workerd
 * (test/worker/oauth), so no node: imports here; what happens to the authorization URL is each subclass's.
 */
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";

export abstract class InMemoryOAuthClient implements OAuthClientProvider {
	private info?: OAuthClientInformationMixed;
	private saved?: OAuthTokens;
	private verifier = "";

	/** `clientMetadataUrl`, when given, is the client's ID as a Client ID Metadata Document instead of a registration. */
	constructor(
		readonly clientName: string,
		readonly redirectUri: string,
		readonly clientMetadataUrl?: string,
	) {}

	get redirectUrl(): string {
		return this.redirectUri;
	}
	get clientMetadata(): OAuthClientMetadata {
		return {
			client_name: this.clientName,
			redirect_uris: [this.redirectUri],
			grant_types: ["authorization_code", "refresh_token"],
			response_types: ["code"],
			token_endpoint_auth_method: "none",
		};
	}
	clientInformation() {
		return this.info;
	}
	saveClientInformation(info: OAuthClientInformationMixed) {
		this.info = info;
	}
	tokens() {
		return this.saved;
	}
	saveTokens(tokens: OAuthTokens) {
		this.saved = tokens;
	}
	saveCodeVerifier(verifier: string) {
		this.verifier = verifier;
	}
	codeVerifier() {
		return this.verifier;
	}
	/** Where a person would be sent to sign in and consent: each test's own browser (or stand-in for one). */
	abstract redirectToAuthorization(url: URL): void;
}
