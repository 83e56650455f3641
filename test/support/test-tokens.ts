/** Bearer tokens for tests only, and the MCP_AUTH_TOKENS table that admits them. */
import { createHash } from "node:crypto";

export const TOKENS = {
	alice: { token: "sg_test_alice_developer_0000000000000001", principal: "alice", role: "developer" },
	bob: { token: "sg_test_bob_admin_00000000000000000000002", principal: "bob", role: "admin" },
	carol: { token: "sg_test_carol_admin_000000000000000000003", principal: "carol", role: "admin" },
	victor: { token: "sg_test_victor_viewer_0000000000000000004", principal: "victor", role: "viewer" },
} as const;

export function tokenTableJson(): string {
	const table: Record<string, { principal: string; role: string }> = {};
	for (const { token, principal, role } of Object.values(TOKENS)) {
		table[createHash("sha256").update(token).digest("hex")] = { principal, role };
	}
	return JSON.stringify(table);
}

/** The approver link's secret of test servers (in production `npm run dev` mints a fresh one per start). */
export const TEST_OPERATOR_SECRET = "op_test_operator_secret_000000000000000000005";

export function operatorHashHex(secret = TEST_OPERATOR_SECRET): string {
	return createHash("sha256").update(secret).digest("hex");
}
