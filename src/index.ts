/**
 * The Worker entry: routing, and the edge's checks before any Durable Object
 * is touched (Origin, authentication, body shape, session ownership), with one
 * error handler so that every answer is JSON, never a stack.
 *   GET /, /health      a description of the server (no secrets)
 *   /mcp                MCP over Streamable HTTP        (authenticated)
 *   /sse                MCP over legacy SSE             (authenticated)
 *   /api/approvals...   the approvals API               (authenticated)
 *   /api/audit...       the audit trail                 (authenticated)
 *   /api/grants...      people's OAuth grants, revocation (authenticated, admins)
 *   GET /approvals      the approvers' page (its data comes from the API), for a signed-in browser
 *   /approvals/...      signing in and out of it (src/web/sign-in.ts)
 *   /authorize, /oauth/*, /.well-known/oauth-*   OAuth sign-in (src/auth/oauth.ts, authorize.ts)
 */
import { env as startupEnv } from "cloudflare:workers";
import { GuardAgent, type SessionProps } from "./agent/guard-agent";
import { handleApprovalsApi } from "./api/approvals";
import { handleAuditApi } from "./api/audit";
import { handleGrantsApi } from "./api/grants";
import { authenticate, requiresCredentials } from "./auth/authenticate";
import { authenticateApprovals, clearSessionCookie, currentSession, hasSessionCookie, signInLocation } from "./auth/browser-session";
import { handleAuthorize, handleOidcCallback } from "./auth/authorize";
import {
	AUTHORIZE_PATH,
	authorizationServer,
	isAuthorizationServerPath,
	issuerFor,
	protectedResourceMetadata,
	resourceFor,
	resourceMetadataUrl,
} from "./auth/oauth";
import { type RequestCaller, withCallerHeader } from "./auth/request-caller";
import { type AccessConfig, type Config, type EdgeConfig, type Env, readConfig, type VariableEnv } from "./config";
import { jsonError, jsonErrorBody, jsonRpcError, limitBody, MAX_BODY_BYTES, preflight, readJsonRpcBody, withCors } from "./http";
import { localPolicyFor } from "./policy/workerd";
import { policyLogLine, policyStatus } from "./policy/source";
import { scrubHeaderValues } from "./gateway/config";
import { upstreamStatuses } from "./gateway/status";
import { SERVER_INFO } from "./server-info";
import { newSessionId, sessionNamespaceFor } from "./session-scope";
import { ApprovalStore } from "./state/approval-store";
import { AuditLog } from "./state/audit-log";
import { budgetOf } from "./state/bindings";
import { BrowserSessionStore } from "./state/browser-session-store";
import { BudgetStore, type SessionKey } from "./state/budget-store";
import { approvalsPage } from "./web/approvals-page";
import { OIDC_CALLBACK_PATH } from "./auth/oidc";
import { handleSignInRoutes } from "./web/sign-in";

export { ApprovalStore, AuditLog, BrowserSessionStore, BudgetStore, GuardAgent };

const streamable = GuardAgent.serve("/mcp", { binding: "MCP_OBJECT" });
const sse = GuardAgent.serveSSE("/sse", { binding: "MCP_OBJECT" });

// The start-up lines: which mode this isolate decides in (never the key), and whom it serves.
{
	const config = readConfig(startupEnv as VariableEnv);
	const authority = config.authority;
	if (authority.mode === "stage0" && authority.baseUrlProblem) {
		console.error(`stage0-edge-guard: STAGE0_BASE_URL is not usable: ${authority.baseUrlProblem}. Every guarded call will be refused.`);
	} else
		console.log(
			authority.mode === "stage0"
				? `stage0-edge-guard: stage0 mode, checking every tool call at ${authority.baseUrl}/check`
				: "stage0-edge-guard: SIMULATED mode (no STAGE0_API_KEY): verdicts come from the local simulator, policy_version simulated-*",
		);
	for (const warning of config.warnings) console.warn(`stage0-edge-guard: WARNING: ${warning}`);
	const policy = localPolicyFor(config.policyText);
	(policy.error ? console.error : console.log)(policyLogLine(policy));
	const gateway = config.gateway;
	if (gateway.upstreams.length > 0)
		console.log(`stage0-edge-guard: gateway in front of ${gateway.upstreams.map((u) => u.name).join(", ")}`);
	if (gateway.guardMode === "shadow") {
		console.warn(
			"stage0-edge-guard: *** SHADOW MODE (GUARD_MODE=shadow) *** upstream tool calls are decided and recorded but run WHATEVER THE VERDICT; set GUARD_MODE=enforce to block",
		);
	}
	const access = accessMode(config.access);
	if (access === "refusing") {
		console.warn(
			"stage0-edge-guard: REFUSING every call: no MCP_AUTH_TOKENS, and no loopback bind attested by the launcher (DEV_LOOPBACK_BIND). Start it with `npm run dev`, or set MCP_AUTH_TOKENS (`npm run token:new`).",
		);
	} else if (access === "loopback-only") {
		console.log("stage0-edge-guard: loopback-only mode (no MCP_AUTH_TOKENS): serving this machine as principal 'local'");
	}
}

function accessMode(access: AccessConfig): "bearer" | "loopback-only" | "refusing" {
	if (requiresCredentials(access)) return "bearer";
	return access.loopbackBind ? "loopback-only" : "refusing";
}

export default {
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		try {
			return await route(request, env, ctx);
		} catch (error) {
			// The edge of the Worker: whatever escaped is a fault of the server. The
			// caller gets a generic JSON answer (a stack page would list the request's
			// headers, bearer token included); the log gets what happened, without headers.
			const { pathname } = new URL(request.url);
			console.error(
				JSON.stringify({
					event: "guard.fault",
					method: request.method,
					path: pathname.slice(0, 200),
					error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : String(error).slice(0, 500),
				}),
			);
			return jsonError(500, "internal_error", "The server failed while handling this request. The failure was logged; try again later.");
		}
	},
} satisfies ExportedHandler<Env>;

async function route(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
	const url = new URL(request.url);
	const { pathname } = url;
	try {
		decodeURIComponent(pathname);
	} catch {
		return jsonError(400, "invalid_request", "The URL's path has a malformed percent-encoding.");
	}

	const config = readConfig(env);
	// OAuth: metadata, token, revocation and registration (which MCP clients' web pages call
	// from anywhere, with the library's CORS), and the sign-in pages (top-level navigations).
	const wellKnown = request.method === "GET" ? protectedResourceMetadata(env, url) : undefined;
	if (wellKnown) return wellKnown;
	if (isAuthorizationServerPath(pathname) || pathname.startsWith("/.well-known/oauth-authorization-server")) {
		const issuer = issuerFor(env, url);
		if (issuer) return authorizationServer(issuer, env).fetch(request, env, ctx);
	}
	if (pathname === AUTHORIZE_PATH) return handleAuthorize(request, env);
	// One callback for every sign-in at the OIDC provider: /authorize's, and the approvers' page's.
	if (pathname === OIDC_CALLBACK_PATH && request.method === "GET") return handleOidcCallback(request, env);

	// Which web page is asking: none (not a browser), the server's own, or an allowed one.
	const edge = config.edge;
	const origin = request.headers.get("origin");
	let corsOrigin: string | undefined;
	if (origin !== null && origin !== url.origin && origin !== edge.publicOrigin) {
		if (!edge.allowedOrigins.has(origin)) {
			return jsonError(
				403,
				"origin_not_allowed",
				`Requests from the web page at ${origin.slice(0, 200)} are not accepted. Only this server's own pages and the origins listed in ALLOWED_ORIGINS may call it.`,
			);
		}
		corsOrigin = origin;
	}
	const respond = (response: Response) => withCors(response, corsOrigin);

	if (request.method === "OPTIONS") {
		return corsOrigin ? preflight(corsOrigin) : new Response(null, { status: 204, headers: { allow: "GET, POST, DELETE, OPTIONS" } });
	}
	if (request.method === "GET" && (pathname === "/" || pathname === "/health"))
		return respond(await describeServer(env, config, pathname === "/"));
	if (request.method === "GET" && pathname === "/approvals") return respond(await approvalsPageFor(request, env));
	if (pathname.startsWith("/approvals/")) return respond(await handleSignInRoutes(request, env));

	const isMcp = pathname === "/mcp";
	const isSse = pathname === "/sse" || pathname === "/sse/message";
	const isApprovals = pathname === "/api/approvals" || pathname.startsWith("/api/approvals/");
	const isAudit = pathname === "/api/audit" || pathname.startsWith("/api/audit/");
	const isGrants = pathname === "/api/grants" || pathname.startsWith("/api/grants/");
	if (!isMcp && !isSse && !isApprovals && !isAudit && !isGrants) {
		return respond(jsonError(404, "not_found", `No route for ${pathname.slice(0, 200)}.`));
	}

	// Who is calling, before any Durable Object but the sign-in sessions' is touched.
	const auth = isApprovals ? await authenticateApprovals(request, env) : await authenticate(request, config.access, env);
	if (!auth.ok) return respond(auth.error);
	const authenticated = auth.value;

	const limited = await limitBody(request, MAX_BODY_BYTES);
	if (!limited) return respond(jsonRpcError(413, -32600, `Request body too large: the limit is ${MAX_BODY_BYTES} bytes.`));

	if (isApprovals) return respond(await insufficientScope(await handleApprovalsApi(limited, env, authenticated), env, url));
	if (isAudit) return respond(await insufficientScope(await handleAuditApi(limited, env, config.access.tokens, authenticated), env, url));
	if (isGrants) return respond(await insufficientScope(await handleGrantsApi(limited, env, config.access.tokens, authenticated), env, url));

	const caller: RequestCaller = {
		...authenticated,
		// Approval links come from configuration; a request's Host is trusted only on loopback.
		approvalsOrigin: edge.publicOrigin ?? (requiresCredentials(config.access) ? "" : url.origin),
	};
	return respond(await jsonErrorBody(await routeMcp(limited, env, ctx, caller, edge)));
}

/** The approvals page for a signed-in browser; anyone else goes through sign-in and back to this very address. */
async function approvalsPageFor(request: Request, env: Env): Promise<Response> {
	const session = await currentSession(request, env);
	if (session) return approvalsPage(session.csrf);
	const url = new URL(request.url);
	const headers = new Headers({ location: signInLocation(url.pathname + url.search), "cache-control": "no-store" });
	if (hasSessionCookie(request)) headers.append("set-cookie", clearSessionCookie(request));
	return new Response(null, { status: 303, headers });
}

/**
 * A 403 for a role that lacks the right (`forbidden`) also says so to OAuth
 * clients: `error="insufficient_scope"` (RFC 6750 3.1) with the resource's
 * metadata. Other 403s (self-approval) are rules, not rights, and stay as they are.
 */
async function insufficientScope(response: Response, env: Env, url: URL): Promise<Response> {
	if (response.status !== 403) return response;
	const body = await response
		.clone()
		.json<{ error?: string }>()
		.catch(() => undefined);
	const issuer = issuerFor(env, url);
	const resource = issuer ? resourceFor(issuer, url.pathname) : undefined;
	if (body?.error !== "forbidden" || !resource) return response;
	const headers = new Headers(response.headers);
	headers.set(
		"www-authenticate",
		`Bearer realm="stage0-edge-guard", error="insufficient_scope", error_description="Your role does not allow this.", resource_metadata="${resourceMetadataUrl(resource)}"`,
	);
	return new Response(response.body, { status: 403, headers });
}

async function describeServer(env: Env, config: Config, probeUpstreams: boolean): Promise<Response> {
	const { authority, gateway } = config;
	// GET / asks an upstream this isolate has not seen lately; /health (polled) only reports what is known.
	const upstreams = await upstreamStatuses(gateway, probeUpstreams, (text) => scrubHeaderValues(text, gateway.upstreams));
	return Response.json({
		name: SERVER_INFO.name,
		version: SERVER_INFO.version,
		mode: authority.mode,
		endpoints: {
			streamable_http: "/mcp",
			sse: "/sse",
			approvals: "/approvals",
			approvals_api: "/api/approvals",
			audit_api: "/api/audit",
			grants_api: "/api/grants",
			health: "/health",
		},
		stage0: authority.mode === "stage0" ? { base_url: authority.baseUrl, timeout_ms: authority.timeoutMs } : null,
		max_retries: config.maxRetries,
		local_policy: policyStatus(localPolicyFor(config.policyText)),
		authentication: accessMode(config.access),
		oauth: oauthDescription(env),
		guard_mode: gateway.guardMode,
		...(gateway.guardMode === "shadow"
			? {
					warning:
						"SHADOW MODE: upstream tool calls are decided and recorded, then run whatever the verdict (would_block in _meta and the audit trail).",
				}
			: {}),
		builtin_tools: gateway.builtinTools,
		upstreams,
	});
}

/** Where OAuth clients start (no secret): the authorization server's metadata, or null when OAuth is off. */
function oauthDescription(env: Env) {
	const { edge, access } = readConfig(env);
	const publicUrl = edge.publicOrigin;
	const issuer = publicUrl ? issuerFor(env, new URL(publicUrl)) : undefined;
	if (!issuer) return requiresCredentials(access) && env.OAUTH_KV ? { enabled: "loopback only (set PUBLIC_URL to sign people in)" } : null;
	return {
		authorization_server: `${issuer}/.well-known/oauth-authorization-server`,
		protected_resource: `${issuer}/.well-known/oauth-protected-resource/mcp`,
		sign_in: access.oidcIssuer ? "oidc" : "token",
	};
}

/**
 * The MCP endpoints. Every session id is checked against the sessions this
 * credential opened (kept per principal in its BudgetStore) before the session's
 * Durable Object is touched; new sessions get an id chosen here and count
 * against MAX_SESSIONS_PER_PRINCIPAL and the rate limit.
 */
async function routeMcp(request: Request, env: Env, ctx: ExecutionContext, caller: RequestCaller, edge: EdgeConfig): Promise<Response> {
	const url = new URL(request.url);
	const budgets = budgetOf(env, caller.principal);
	const key = (id: string, transport: SessionKey["transport"]): SessionKey => ({ id, credential: caller.credential, transport });
	const sessionNotFound = () =>
		jsonRpcError(404, -32001, "Session not found: open a new session (sessions belong to the credential that opened them).");

	// McpAgent hands ctx.props to a session when its Durable Object first starts.
	const props: SessionProps = { principal: caller.principal, credential: caller.credential };
	(ctx as { props: unknown }).props = props;
	const forward = (handler: typeof streamable, forwarded: Request, newId?: string) =>
		handler.fetch(
			withCallerHeader(forwarded, caller),
			{ ...env, MCP_OBJECT: sessionNamespaceFor(env.MCP_OBJECT, caller.credential, newId) },
			ctx,
		);

	const open = async (id: string, transport: SessionKey["transport"]): Promise<Response | undefined> => {
		const admission = await budgets.openSession(key(id, transport), edge.maxSessionsPerPrincipal);
		if (admission.ok) return undefined;
		const refusal = admission.error;
		if (refusal.reason === "sessions") {
			return jsonError(
				429,
				"too_many_sessions",
				`${caller.principal} has ${refusal.limit} open sessions, the limit (MAX_SESSIONS_PER_PRINCIPAL (${refusal.limit})). Close one (DELETE /mcp, or end an SSE stream) or wait until one has been idle for an hour.`,
			);
		}
		return Response.json(
			{
				error: "rate_limited",
				message: `${caller.principal} made ${refusal.limit} calls in the last minute (RATE_LIMIT_PER_MINUTE), opening sessions included; retry after ${refusal.retryAfterSeconds} seconds.`,
				retry_after_seconds: refusal.retryAfterSeconds,
			},
			{ status: 429, headers: { "retry-after": String(refusal.retryAfterSeconds) } },
		);
	};

	if (url.pathname === "/mcp") {
		const sessionId = request.headers.get("mcp-session-id");
		if (request.method === "POST") {
			if (!request.headers.get("content-type")?.includes("application/json")) {
				return jsonRpcError(415, -32000, "Unsupported Media Type: Content-Type must be application/json.");
			}
			const body = readJsonRpcBody(await request.text(), false);
			if (!body.ok) return body.error;
			const forwarded = new Request(request.url, { method: "POST", headers: request.headers, body: body.value.text });
			if (body.value.initializes && !sessionId) {
				const id = newSessionId();
				const refused = await open(id, "streamable-http");
				if (refused) return refused;
				const response = await forward(streamable, forwarded, id);
				if (response.status !== 200) ctx.waitUntil(budgets.closeSession(key(id, "streamable-http")));
				return response;
			}
			if (sessionId && !(await budgets.useSession(key(sessionId, "streamable-http")))) return sessionNotFound();
			return forward(streamable, forwarded);
		}
		if (request.method === "GET" || request.method === "DELETE") {
			if (sessionId && !(await budgets.useSession(key(sessionId, "streamable-http")))) return sessionNotFound();
			const response = await forward(streamable, request);
			if (request.method === "DELETE" && sessionId && response.status < 300)
				ctx.waitUntil(budgets.closeSession(key(sessionId, "streamable-http")));
			return response;
		}
		return jsonError(405, "method_not_allowed", "/mcp takes POST, GET and DELETE.", { allow: "GET, POST, DELETE" });
	}

	if (url.pathname === "/sse" && request.method === "GET") {
		if (url.searchParams.has("sessionId")) {
			return jsonRpcError(400, -32600, "GET /sse opens a new session; the server chooses its id (do not send a sessionId).");
		}
		const id = newSessionId();
		const refused = await open(id, "sse");
		if (refused) return refused;
		const response = await forward(sse, request, id);
		const close = () => ctx.waitUntil(budgets.closeSession(key(id, "sse")));
		if (response.status !== 200 || !response.body) {
			close();
			return response;
		}
		return new Response(onStreamEnd(response.body, close), response);
	}
	if (url.pathname === "/sse/message" && request.method === "POST") {
		const sessionId = url.searchParams.get("sessionId");
		if (!sessionId) return jsonRpcError(400, -32600, "Missing sessionId: open a session with GET /sse first.");
		if (!request.headers.get("content-type")?.includes("application/json")) {
			return jsonRpcError(415, -32000, "Unsupported Media Type: Content-Type must be application/json.");
		}
		const body = readJsonRpcBody(await request.text(), true);
		if (!body.ok) return body.error;
		if (!(await budgets.useSession(key(sessionId, "sse")))) return sessionNotFound();
		return forward(sse, new Request(request.url, { method: "POST", headers: request.headers, body: body.value.text }));
	}
	return jsonError(405, "method_not_allowed", "/sse takes GET (a new stream); /sse/message takes POST.", { allow: "GET, POST" });
}

/** The same bytes, and `done` called once when the stream ends or the client goes away. */
function onStreamEnd(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
	const reader = body.getReader();
	let ended = false;
	const end = () => {
		if (!ended) {
			ended = true;
			done();
		}
	};
	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			try {
				const { done: finished, value } = await reader.read();
				if (finished) {
					controller.close();
					end();
				} else controller.enqueue(value);
			} catch (error) {
				end();
				controller.error(error);
			}
		},
		cancel(reason) {
			end();
			return reader.cancel(reason);
		},
	});
}
