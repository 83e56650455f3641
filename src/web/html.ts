/** What every page of the server is served with: a nonce for its one script and style, and headers that lock it down. */

export function newNonce(): string {
	return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
}

/** Only the page's own nonce'd script and style, fetches to this server, no framing, no referrer, never cached. */
export function pageResponse(html: string, nonce: string, headers: HeadersInit = {}): Response {
	const response = new Response(html, {
		headers: {
			"content-type": "text/html; charset=utf-8",
			"content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
			"x-frame-options": "DENY",
			"referrer-policy": "no-referrer",
			"x-content-type-options": "nosniff",
			"cache-control": "no-store",
		},
	});
	for (const [name, value] of new Headers(headers)) response.headers.append(name, value);
	return response;
}

/** Text for an HTML attribute or element. */
export function escapeHtml(text: string): string {
	return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
