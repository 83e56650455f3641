/**
 * The pages of /authorize: signing in with a token (when no OIDC provider is
 * configured), the consent page (which client, where the tokens go, as whom),
 * and a sign-in error. Plain HTML forms, no script; every value that came from
 * a client (its name, its domain, its redirect URI) is escaped. Framing is
 * refused (CSP frame-ancestors and X-Frame-Options) and nothing is cached.
 */
import type { ConsentDescription } from "@cloudflare/workers-oauth-provider";

const escape = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f7f9; }
body { margin: 40px auto; max-width: 560px; padding: 0 20px; }
main { background: #fff; border: 1px solid #dde; border-radius: 10px; padding: 24px; }
h1 { font-size: 1.3rem; margin-top: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; }
dt { color: #5d6270; } dd { margin: 0; overflow-wrap: anywhere; }
.warn { background: #fff4e5; border: 1px solid #f0b35b; padding: 10px; border-radius: 6px; }
.error { color: #b3261e; }
input, button { font: inherit; min-height: 44px; }
input[type=password] { width: 100%; padding: 6px 8px; box-sizing: border-box; }
button { padding: 6px 16px; border-radius: 6px; border: 1px solid #889; background: #fff; cursor: pointer; margin-right: 8px; }
button.approve { background: #0a7d32; color: #fff; border-color: #0a7d32; }
`;

/** Headers every /authorize page carries. */
export function pageHeaders(nonce: string, base?: Headers): Headers {
	const headers = new Headers(base);
	headers.set("content-type", "text/html; charset=utf-8");
	headers.set("content-security-policy", `default-src 'none'; style-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'`);
	headers.set("x-frame-options", "DENY");
	headers.set("x-content-type-options", "nosniff");
	// same-origin, not no-referrer: under no-referrer the browser sends `Origin: null` with the page's own form posts.
	headers.set("referrer-policy", "same-origin");
	headers.set("cache-control", "no-store");
	return headers;
}

function page(nonce: string, title: string, body: string): string {
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · stage0-edge-guard</title><style nonce="${nonce}">${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

function clientLines(details: ConsentDescription): string {
	const published = details.clientDomain
		? `published by <strong>${escape(details.clientDomain)}</strong>`
		: "registered itself; its name is not verified";
	const loopback = details.redirectIsLoopback
		? `<p class="warn">This sends access to an app on your computer (<strong>${escape(details.redirectHost)}</strong>). Continue only if you just started signing in from it.</p>`
		: "";
	return `<dl>
<dt>Application</dt><dd id="client-name">${escape(details.clientName)} <span>(${published})</span></dd>
<dt>Access goes to</dt><dd id="redirect-host">${escape(details.redirectHost)}</dd>
</dl>${loopback}`;
}

export interface Identity {
	principal: string;
	role: string;
}

/** The consent page: the client, the redirect URI's host, who it will act as; Allow or Deny. */
export function consentPage(nonce: string, details: ConsentDescription, handle: string, who: Identity): string {
	return page(
		nonce,
		`Allow ${details.clientName}?`,
		`<h1>Allow <span>${escape(details.clientName)}</span> to use this guard as you?</h1>
${clientLines(details)}
<dl>
<dt>Acting as</dt><dd id="principal">${escape(who.principal)}</dd>
<dt>With the role</dt><dd id="role">${escape(who.role)}</dd>
</dl>
<p>It will be able to call the guard's tools as ${escape(who.principal)}; every call is still checked by the policy authority and recorded.</p>
<form method="post" action="/authorize">
<input type="hidden" name="step" value="consent">
<input type="hidden" name="handle" value="${escape(handle)}">
<button class="approve" name="decision" value="approve" id="approve">Allow</button><button name="decision" value="deny" id="deny">Deny</button>
</form>`,
	);
}

/** Signing in with a token, when no OIDC provider is configured. */
export function tokenSignInPage(nonce: string, details: ConsentDescription, pending: string, error?: string): string {
	return page(
		nonce,
		"Sign in",
		`<h1>Sign in to stage0-edge-guard</h1>
<p>An application asks to use this guard for you.</p>
${clientLines(details)}
${error ? `<p class="error" id="error" role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/authorize">
<input type="hidden" name="step" value="sign-in">
<input type="hidden" name="pending" value="${escape(pending)}">
<label for="token">Your access token (from your administrator: <code>npm run token:new</code>)</label>
<input type="password" id="token" name="token" autocomplete="current-password" required>
<p><button class="approve" id="sign-in">Sign in</button></p>
</form>`,
	);
}

export function errorPage(nonce: string, title: string, message: string): string {
	return page(nonce, title, `<h1>${escape(title)}</h1><p class="error" id="error" role="alert">${escape(message)}</p>`);
}
