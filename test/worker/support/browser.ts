/** A browser's view of the approvals page inside workerd: signing in, its cookie jar of one, and requests made with it. */
import { exports } from "cloudflare:workers";
import type { WorkerFetch } from "./mcp";

const viaExports: WorkerFetch = (request) => exports.default.fetch(request);

export interface SignedIn {
	/** The `name=value` to send back in a Cookie header. */
	cookie: string;
	/** The whole Set-Cookie the server answered with. */
	setCookie: string;
	/** The session's CSRF token, as the approvals page carries it. */
	csrf: string;
	body: Record<string, unknown>;
}

/** POST /approvals/sign-in as the sign-in page does (its own Origin), then reads the CSRF token from the approvals page. */
export async function signIn(
	token: string,
	options: { origin?: string; returnTo?: string; cookie?: string; via?: WorkerFetch } = {},
): Promise<SignedIn> {
	const origin = options.origin ?? "http://localhost";
	const via = options.via ?? viaExports;
	const res = await via(
		new Request(`${origin}/approvals/sign-in`, {
			method: "POST",
			headers: { origin, "content-type": "application/json", ...(options.cookie ? { cookie: options.cookie } : {}) },
			body: JSON.stringify({ token, ...(options.returnTo === undefined ? {} : { return_to: options.returnTo }) }),
		}),
	);
	const body = await res.json<Record<string, unknown>>();
	if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(body)}`);
	const setCookie = res.headers.get("set-cookie") ?? "";
	const cookie = setCookie.split(";")[0];
	const page = await via(new Request(`${origin}/approvals`, { headers: { cookie } }));
	const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(await page.text())?.[1] ?? "";
	return { cookie, setCookie, csrf, body };
}

/** A request the approvals page's script would make with the session (and, for changes, its Origin and CSRF token). */
export async function withSession(
	session: { cookie: string; csrf?: string },
	method: "GET" | "POST",
	path: string,
	options: { origin?: string | null; csrf?: string | null; body?: unknown; via?: WorkerFetch; base?: string } = {},
) {
	const base = options.base ?? "http://localhost";
	const headers: Record<string, string> = { cookie: session.cookie, "content-type": "application/json" };
	const origin = options.origin === undefined ? base : options.origin;
	if (origin !== null && method !== "GET") headers.origin = origin;
	const csrf = options.csrf === undefined ? session.csrf : options.csrf;
	if (csrf) headers["x-csrf-token"] = csrf;
	const res = await (options.via ?? viaExports)(
		new Request(`${base}${path}`, method === "GET" ? { headers } : { method, headers, body: JSON.stringify(options.body ?? {}) }),
	);
	const text = await res.text();
	let body: Record<string, unknown> = {};
	try {
		body = JSON.parse(text);
	} catch {
		body = { text };
	}
	return { status: res.status, headers: res.headers, body };
}
