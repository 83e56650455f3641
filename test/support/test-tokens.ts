/** Bearer tokens for tests only, and the MCP_AUTH_TOKENS table that admits them. */
import { createHash } from "node:crypto";

export const TOKENS = {
	alice: { token: "sg_test_alice_developer_0000000000000001", principal: "alice", role: "developer" },
	bob: { token: "sg_test_bob_admin_00000000000000000000002", principal: "bob", role: "admin" },
	carol: { token: "sg_test_carol_admin_000000000000000000003", principal: "carol", role: "admin" },
	victor: { token: "sg_test_victor_viewer_0000000000000000004", principal: "victor", role: "viewer" },
	/** alice's second credential, with a lower role than her first. */
	aliceViewer: { token: "sg_test_alice_viewer_00000000000000000005", principal: "alice", role: "viewer" },
} as const;

/** The table; `roles` changes the role of some tokens (as an administrator editing it would). */
export function tokenTableJson(roles: Partial<Record<keyof typeof TOKENS, string>> = {}): string {
	const table: Record<string, { principal: string; role: string }> = {};
	for (const [who, { token, principal, role }] of Object.entries(TOKENS)) {
		table[createHash("sha256").update(token).digest("hex")] = { principal, role: roles[who as keyof typeof TOKENS] ?? role };
	}
	return JSON.stringify(table);
}

export interface TestToken {
	token: string;
	principal: string;
	role: string;
}

/**
 * More credentials for the soak (test/load): two tokens of one principal with
 * different roles, one whose role is lowered on a restart, and one that opens
 * too many sessions.
 */
export const SOAK_TOKENS = {
	daveAdmin: { token: "sg_test_dave_admin_0000000000000000000005", principal: "dave", role: "admin" },
	daveViewer: { token: "sg_test_dave_viewer_000000000000000000006", principal: "dave", role: "viewer" },
	erin: { token: "sg_test_erin_admin_then_viewer_0000000007", principal: "erin", role: "admin" },
	mallory: { token: "sg_test_mallory_developer_00000000000008", principal: "mallory", role: "developer" },
} as const satisfies Record<string, TestToken>;

/** The MCP_AUTH_TOKENS table admitting exactly these credentials. */
export function tokenTableOf(tokens: readonly TestToken[]): string {
	const table: Record<string, { principal: string; role: string }> = {};
	for (const { token, principal, role } of tokens) table[createHash("sha256").update(token).digest("hex")] = { principal, role };
	return JSON.stringify(table);
}

/** The approver link's secret of test servers (in production `npm run dev` mints a fresh one per start). */
export const TEST_OPERATOR_SECRET = "op_test_operator_secret_000000000000000000005";

export function operatorHashHex(secret = TEST_OPERATOR_SECRET): string {
	return createHash("sha256").update(secret).digest("hex");
}
