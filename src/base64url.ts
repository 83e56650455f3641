/**
 * base64url without padding (RFC 4648 §5), the one codec for what the server
 * hands out as opaque text: list cursors, random tokens, PKCE challenges.
 */

export function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Text (as UTF-8) in base64url: a cursor may carry any principal's name. */
export function base64urlText(text: string): string {
	return base64url(new TextEncoder().encode(text));
}

/** The text a base64urlText made, or undefined for anything that is not base64url of UTF-8. */
export function fromBase64urlText(encoded: string): string | undefined {
	try {
		const binary = atob(encoded.replace(/-/g, "+").replace(/_/g, "/"));
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
	} catch {
		return undefined;
	}
}

/** `bytes` random bytes, in base64url: unguessable ids, secrets and verifiers. */
export function randomToken(bytes = 32): string {
	return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}
