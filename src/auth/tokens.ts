/**
 * Bearer tokens. Configuration holds only the SHA-256 of each token
 * (MCP_AUTH_TOKENS), never the token itself, so a leaked configuration does
 * not leak a credential.
 */
import { z } from "zod";
import { type Role, RoleSchema } from "../guard/enums";

export interface Caller {
	principal: string;
	role: Role;
	/**
	 * The exact credential presented: the SHA-256 hex of the bearer token, or
	 * `loopback` for the token-less local caller. Sessions belong to it.
	 */
	credential: string;
}

const TokenTableSchema = z.record(
	z.string().regex(/^[0-9a-f]{64}$/, "keys must be the SHA-256 hex of a token"),
	z.object({ principal: z.string().min(1).max(128), role: RoleSchema }),
);

export interface TokenEntry {
	hash: Uint8Array;
	caller: Caller;
}

/** Parses MCP_AUTH_TOKENS; throws with a message that never echoes the value. */
export function parseTokenTable(raw: string): TokenEntry[] {
	let json: unknown;
	try {
		json = JSON.parse(raw);
	} catch {
		throw new Error("MCP_AUTH_TOKENS is not valid JSON");
	}
	const parsed = TokenTableSchema.safeParse(json);
	if (!parsed.success) {
		const first = parsed.error.issues[0];
		throw new Error(`MCP_AUTH_TOKENS is not a valid token table: ${first.message}`);
	}
	return Object.entries(parsed.data).map(([hex, caller]) => ({ hash: hexToBytes(hex), caller: { ...caller, credential: hex } }));
}

export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return bytesToHex(new Uint8Array(digest));
}

/**
 * Finds the caller of a token. Every entry is compared, each in constant
 * time, so the time taken says nothing about which entry (if any) matched.
 */
export async function lookupToken(token: string, table: TokenEntry[]): Promise<Caller | undefined> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
	let found: Caller | undefined;
	for (const entry of table) {
		if (timingSafeEqual(entry.hash, digest) && !found) found = entry.caller;
	}
	return found;
}

/** Equal bytes, compared in time that does not depend on where they differ. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
	const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean };
	if (a.byteLength !== b.byteLength) return false;
	if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(a, b);
	let diff = 0;
	for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
	return diff === 0;
}

export function bytesToHex(bytes: Uint8Array): string {
	let out = "";
	for (const b of bytes) out += b.toString(16).padStart(2, "0");
	return out;
}

function hexToBytes(hex: string): Uint8Array {
	const out = new Uint8Array(hex.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
	return out;
}
