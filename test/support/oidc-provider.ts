/**
 * A loopback OpenID Connect provider for tests: discovery (OIDC Discovery 1.0),
 * a JWKS, an authorization endpoint that signs in the configured user at once
 * (no login form: the person is whoever the test says), and a token endpoint
 * that exchanges a code once, checks the client's secret (client_secret_basic),
 * redirect_uri and PKCE S256, and issues an RS256-signed ID token (OIDC Core
 * 3.1.3.3). Its misbehaviours are switches a test turns on, one at a time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export interface OidcUser {
	sub: string;
	email?: string;
	email_verified?: boolean;
	[claim: string]: unknown;
}

export interface OidcProviderOptions {
	clientId: string;
	clientSecret: string;
	/** The redirect URIs registered for the client; anything else is refused. */
	redirectUris: string[];
	user: OidcUser;
}

/** What a test may make the provider do wrong. */
export interface Misbehaviour {
	/** Flip a character of the ID token's payload after signing. */
	tamperIdToken?: boolean;
	/** Sign the ID token with a key not in the JWKS. */
	foreignKey?: boolean;
	/** Claims that override the honest ones (aud, iss, exp, nonce...). */
	claims?: Record<string, unknown>;
	/** The issuer the discovery document names. */
	discoveryIssuer?: string;
	/** The `iss` sent back with the code (RFC 9207). */
	responseIss?: string;
}

interface IssuedCode {
	clientId: string;
	redirectUri: string;
	challenge: string;
	nonce?: string;
	used: boolean;
}

export interface OidcProvider {
	issuer: string;
	options: OidcProviderOptions;
	misbehave: Misbehaviour;
	/** Codes the token endpoint was asked to redeem, and how it answered. */
	tokenRequests: { code: string; status: number }[];
	close(): Promise<void>;
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProvider> {
	const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
	const foreign = await generateKeyPair("RS256");
	const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "test-key-1", alg: "RS256", use: "sig" };
	const codes = new Map<string, IssuedCode>();
	const provider: OidcProvider = {
		issuer: "",
		options,
		misbehave: {},
		tokenRequests: [],
		close: () => new Promise((resolve) => server.close(() => resolve())),
	};

	const server: Server = createServer((req, res) => {
		handle(req, res).catch(() => send(res, 500, { error: "server_error" }));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	provider.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

	async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const url = new URL(req.url ?? "/", provider.issuer);
		if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
			return send(res, 200, {
				issuer: provider.misbehave.discoveryIssuer ?? provider.issuer,
				authorization_endpoint: `${provider.issuer}/authorize`,
				token_endpoint: `${provider.issuer}/token`,
				jwks_uri: `${provider.issuer}/jwks`,
				response_types_supported: ["code"],
				subject_types_supported: ["public"],
				id_token_signing_alg_values_supported: ["RS256"],
				code_challenge_methods_supported: ["S256"],
				token_endpoint_auth_methods_supported: ["client_secret_basic"],
				scopes_supported: ["openid", "email", "profile"],
				authorization_response_iss_parameter_supported: true,
			});
		}
		if (req.method === "GET" && url.pathname === "/jwks") return send(res, 200, { keys: [jwk] });
		if (req.method === "GET" && url.pathname === "/authorize") return authorize(url, res);
		if (req.method === "POST" && url.pathname === "/token") return token(req, res);
		return send(res, 404, { error: "not_found" });
	}

	function authorize(url: URL, res: ServerResponse): void {
		const q = url.searchParams;
		const redirectUri = q.get("redirect_uri") ?? "";
		// Errors about the client or redirect URI are shown, never redirected (RFC 6749 4.1.2.1).
		if (q.get("client_id") !== options.clientId) return send(res, 400, { error: "invalid_client" });
		if (!options.redirectUris.includes(redirectUri)) return send(res, 400, { error: "invalid_request", error_description: "redirect_uri" });
		const back = new URL(redirectUri);
		const state = q.get("state");
		if (state !== null) back.searchParams.set("state", state);
		back.searchParams.set("iss", provider.misbehave.responseIss ?? provider.issuer);
		const scopes = (q.get("scope") ?? "").split(" ");
		const challenge = q.get("code_challenge");
		if (q.get("response_type") !== "code" || !scopes.includes("openid") || !challenge || q.get("code_challenge_method") !== "S256") {
			back.searchParams.set("error", "invalid_request");
			return redirect(res, back);
		}
		const code = randomBytes(24).toString("base64url");
		codes.set(code, { clientId: options.clientId, redirectUri, challenge, nonce: q.get("nonce") ?? undefined, used: false });
		back.searchParams.set("code", code);
		return redirect(res, back);
	}

	async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const form = new URLSearchParams(await readBody(req));
		const code = form.get("code") ?? "";
		const answer = (status: number, body: unknown) => {
			provider.tokenRequests.push({ code, status });
			send(res, status, body);
		};
		const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
		const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, " "));
		const [id, secret]: string[] = basic ? Buffer.from(basic[1], "base64").toString().split(":").map(decode) : [];
		if (id !== options.clientId || secret !== options.clientSecret) return answer(401, { error: "invalid_client" });
		if (form.get("grant_type") !== "authorization_code") return answer(400, { error: "unsupported_grant_type" });
		const issued = codes.get(code);
		if (!issued || issued.used) return answer(400, { error: "invalid_grant" });
		issued.used = true;
		if (form.get("redirect_uri") !== issued.redirectUri) return answer(400, { error: "invalid_grant" });
		const verifier = form.get("code_verifier") ?? "";
		if (createHash("sha256").update(verifier).digest("base64url") !== issued.challenge) return answer(400, { error: "invalid_grant" });
		const now = Math.floor(Date.now() / 1000);
		const claims = {
			...options.user,
			iss: provider.issuer,
			aud: options.clientId,
			iat: now,
			exp: now + 300,
			...(issued.nonce ? { nonce: issued.nonce } : {}),
			...provider.misbehave.claims,
		};
		let idToken = await new SignJWT(claims)
			.setProtectedHeader({ alg: "RS256", kid: "test-key-1", typ: "JWT" })
			.sign(provider.misbehave.foreignKey ? foreign.privateKey : privateKey);
		if (provider.misbehave.tamperIdToken) idToken = tamper(idToken);
		answer(200, { access_token: randomBytes(16).toString("base64url"), token_type: "Bearer", expires_in: 300, id_token: idToken });
	}

	return provider;
}

/** The same token with its payload changed (`"sub"` becomes someone else's): the signature no longer matches. */
function tamper(jwt: string): string {
	const [header, payload, signature] = jwt.split(".");
	const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
	claims.email = "mallory@example.com";
	return [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
}

function send(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
	res.end(JSON.stringify(body));
}

function redirect(res: ServerResponse, to: URL): void {
	res.writeHead(302, { location: to.toString() });
	res.end();
}

function readBody(req: IncomingMessage): Promise<string> {
	return new Promise((resolve, reject) => {
		let body = "";
		req.setEncoding("utf8");
		req.on("data", (chunk: string) => (body += chunk));
		req.on("end", () => resolve(body));
		req.on("error", reject);
	});
}
