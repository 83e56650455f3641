/**
 * Creates a bearer token for the MCP server and prints the MCP_AUTH_TOKENS
 * entry to add. The token is printed once and stored nowhere; only its
 * SHA-256 goes into configuration.
 *
 *   npm run token:new -- --principal alice --role developer
 */
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

const ROLES = ["admin", "developer", "viewer"];
const { values } = parseArgs({ options: { principal: { type: "string" }, role: { type: "string" } } });
const principal = values.principal?.trim();
const role = values.role?.trim();
if (!principal || !role || !ROLES.includes(role) || principal.length > 128) {
	console.error("usage: npm run token:new -- --principal NAME --role admin|developer|viewer");
	process.exit(2);
}
const token = `sg_${randomBytes(32).toString("base64url")}`;
const hash = createHash("sha256").update(token).digest("hex");
const entry = { [hash]: { principal, role } };

console.log(`Token for ${principal} (${role}), shown once; give it to its holder only:\n\n  ${token}\n`);
console.log("Add this entry to the MCP_AUTH_TOKENS JSON object (merge with existing entries):\n");
console.log(`  ${JSON.stringify(entry)}\n`);
console.log("Locally: put MCP_AUTH_TOKENS='{...}' in .dev.vars. Deployed: npx wrangler secret put MCP_AUTH_TOKENS");
