/**
 * `npm run token:new`: creates a bearer token for the MCP server. The token is
 * printed once and stored nowhere; only its SHA-256 goes into MCP_AUTH_TOKENS.
 * It prints the whole new MCP_AUTH_TOKENS value, merged with the one in
 * .dev.vars when there is one, or with --write updates .dev.vars in place.
 * The table holds only hashes, so printing it shows no one's token.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROLES } from "../src/guard/enums";
import { parseTokenTable } from "../src/auth/tokens";

const USAGE = `Creates a bearer token for the MCP server and the MCP_AUTH_TOKENS value that admits it.

Usage: npm run token:new -- --principal NAME --role ROLE [--write] [--dev-vars FILE]

  --principal NAME   who holds the token (1-128 characters), e.g. alice or ci-bot
  --role ROLE        ${ROLES.join(", ")}
  --write            add the token to MCP_AUTH_TOKENS in .dev.vars (created if missing) instead of
                     printing the line to paste; other lines are kept as they are
  --dev-vars FILE    the .dev.vars to read and write (default: .dev.vars in the current directory)
  -h, --help         this help

The token is shown once: hand it to its holder. Configuration keeps only its SHA-256.
Deployed: npx wrangler secret put MCP_AUTH_TOKENS, and paste the JSON value printed.`;

/** A mistake of the caller: one clear message and the usage, no stack. */
class UsageError extends Error {}

type Table = Record<string, { principal: string; role: string }>;
const LINE = /^\s*(?:export\s+)?MCP_AUTH_TOKENS\s*=(.*)$/;

/** The MCP_AUTH_TOKENS table in a .dev.vars (empty when there is none), checked like the server checks it. */
function readTable(text: string, file: string): Table {
	const lines = text.split(/\r?\n/).filter((l) => LINE.test(l));
	if (lines.length === 0) return {};
	if (lines.length > 1) throw new UsageError(`${file} sets MCP_AUTH_TOKENS more than once: keep one line, then run this again.`);
	let value = LINE.exec(lines[0])![1].trim();
	const quote = value[0];
	if ((quote === "'" || quote === '"' || quote === "`") && value.endsWith(quote) && value.length >= 2) value = value.slice(1, -1);
	if (value === "") return {};
	try {
		parseTokenTable(value);
	} catch (error) {
		throw new UsageError(
			`${file}: ${(error as Error).message}. Fix or remove that line (it must be one line of JSON), then run this again.`,
		);
	}
	return JSON.parse(value) as Table;
}

/** One line for .dev.vars; single quotes, so dotenv takes the JSON as it is. */
function devVarsLine(table: Table): string {
	return `MCP_AUTH_TOKENS='${JSON.stringify(table)}'`;
}

function main(argv: string[]): number {
	let values: { principal?: string; role?: string; write?: boolean; "dev-vars"?: string; help?: boolean };
	try {
		({ values } = parseArgs({
			args: argv,
			strict: true,
			allowPositionals: false,
			options: {
				principal: { type: "string" },
				role: { type: "string" },
				write: { type: "boolean" },
				"dev-vars": { type: "string" },
				help: { type: "boolean", short: "h" },
			},
		}));
	} catch (error) {
		throw new UsageError((error as Error).message.split("\n")[0]);
	}
	if (values.help) {
		console.log(USAGE);
		return 0;
	}
	const principal = values.principal?.trim();
	const role = values.role?.trim();
	if (!principal) throw new UsageError("--principal NAME is required.");
	if (principal.length > 128) throw new UsageError("--principal is longer than 128 characters.");
	if (!role) throw new UsageError("--role ROLE is required.");
	if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")} (got '${role}').`);

	const file = resolve(values["dev-vars"] ?? ".dev.vars");
	const text = existsSync(file) ? readFileSync(file, "utf8") : "";
	const current = readTable(text, file);

	const token = `sg_${randomBytes(32).toString("base64url")}`;
	const hash = createHash("sha256").update(token).digest("hex");
	const table: Table = { ...current, [hash]: { principal, role } };
	const others = Object.values(current).filter((c) => c.principal === principal).length;

	console.log(`Token for ${principal} (${role}), shown once; give it to its holder only:\n\n  ${token}\n`);
	if (others > 0) {
		console.log(`${principal} already has ${others} other token(s); they stay valid. Remove an entry from the table to revoke it.\n`);
	}
	const merged = Object.keys(current).length > 0 ? ` (merged with the ${Object.keys(current).length} in ${file})` : "";
	if (values.write) {
		const line = devVarsLine(table);
		const lines = text === "" ? [] : text.replace(/\r?\n$/, "").split(/\r?\n/);
		const at = lines.findIndex((l) => LINE.test(l));
		if (at >= 0) lines[at] = line;
		else lines.push(line);
		// Written whole, then renamed: an interrupted run leaves the old file.
		writeFileSync(`${file}.tmp`, `${lines.join("\n")}\n`, { mode: 0o600 });
		renameSync(`${file}.tmp`, file);
		console.log(`Wrote MCP_AUTH_TOKENS to ${file}${merged}: ${Object.keys(table).length} token(s). Restart \`npm run dev\` to use it.`);
	} else {
		console.log(`The whole new MCP_AUTH_TOKENS${merged}. Locally, this line replaces any MCP_AUTH_TOKENS line in .dev.vars`);
		console.log(`(or run again with --write to do that for you):\n\n${devVarsLine(table)}\n`);
	}
	console.log(`Deployed: npx wrangler secret put MCP_AUTH_TOKENS, and paste:\n\n${JSON.stringify(table)}`);
	return 0;
}

try {
	process.exitCode = main(process.argv.slice(2));
} catch (error) {
	if (error instanceof UsageError) {
		console.error(`token:new: ${error.message}\n\n${USAGE}`);
		process.exitCode = 2;
	} else {
		console.error(`token:new: ${error instanceof Error ? error.message : String(error)}`);
		process.exitCode = 1;
	}
}
