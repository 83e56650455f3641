/** `npm run token:new` as a person runs it: a real process, its output, its exit code, the .dev.vars it leaves. */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { unstable_getVarsForDev } from "wrangler";
import { afterAll, describe, expect, it } from "vitest";
import { parseTokenTable } from "../../src/auth/tokens";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "edge-guard-token-new-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tokenNew(...args: string[]) {
	const run = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/token-new.ts"), ...args], {
		cwd: dir,
		encoding: "utf8",
		timeout: 30_000,
	});
	return { code: run.status, out: run.stdout, err: run.stderr };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const tokenIn = (out: string) => /^\s+(sg_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const OLD_HASH = "ab".repeat(32);
const EXISTING = [
	"# my settings",
	"STAGE0_API_KEY=sk-live-secret-key-of-the-developer",
	`MCP_AUTH_TOKENS={"${OLD_HASH}":{"principal":"bob","role":"admin"}}`,
	"LOCAL_ROLE=admin",
	"",
].join("\n");

// Each case starts a tsx process: seconds on a busy machine.
describe("npm run token:new", { timeout: 60_000 }, () => {
	it("--help prints the usage and exits 0", () => {
		const { code, out, err } = tokenNew("--help");
		expect(code).toBe(0);
		expect(out).toContain("Usage: npm run token:new -- --principal NAME --role ROLE [--write]");
		expect(out).toContain("admin, developer, viewer");
		expect(err).toBe("");
	});

	it.each([
		[["--bogus"], "Unknown option '--bogus'"],
		[["--role", "developer"], "--principal NAME is required."],
		[["--principal", "alice"], "--role ROLE is required."],
		[["--principal", "alice", "--role", "root"], "--role must be one of admin, developer, viewer (got 'root')."],
		[["--principal"], "--principal"],
		[["--principal", "x".repeat(129), "--role", "viewer"], "longer than 128 characters"],
	])("%j is a clear error with the usage, no stack, and creates nothing", (args, message) => {
		const { code, out, err } = tokenNew(...args);
		expect(code).toBe(2);
		expect(err).toContain(`token:new: `);
		expect(err).toContain(message);
		expect(err).toContain("Usage:");
		expect(err).not.toMatch(STACK);
		expect(out).toBe("");
		expect(existsSync(join(dir, ".dev.vars"))).toBe(false);
	});

	it("without .dev.vars prints a token and the whole MCP_AUTH_TOKENS that admits it", () => {
		const { code, out } = tokenNew("--principal", "alice", "--role", "developer");
		expect(code).toBe(0);
		const token = tokenIn(out)!;
		expect(token).toBeDefined();
		expect(out).toContain(`MCP_AUTH_TOKENS='{"${sha256(token)}":{"principal":"alice","role":"developer"}}'`);
		expect(existsSync(join(dir, ".dev.vars"))).toBe(false);
	});

	it("merges with the table in .dev.vars, prints it whole, and changes nothing without --write", () => {
		writeFileSync(join(dir, ".dev.vars"), EXISTING);
		const { code, out } = tokenNew("--principal", "carol", "--role", "viewer");
		expect(code).toBe(0);
		const token = tokenIn(out)!;
		expect(out).toContain(
			`MCP_AUTH_TOKENS='{"${OLD_HASH}":{"principal":"bob","role":"admin"},"${sha256(token)}":{"principal":"carol","role":"viewer"}}'`,
		);
		expect(out).toContain("merged with the 1 in");
		expect(out).not.toContain("sk-live-secret-key-of-the-developer");
		expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe(EXISTING);
	});

	it("--write updates .dev.vars in place, keeps every other line, and wrangler reads the table back", async () => {
		writeFileSync(join(dir, ".dev.vars"), EXISTING);
		const { code, out } = tokenNew("--principal", "dave", "--role", "developer", "--write");
		expect(code).toBe(0);
		const token = tokenIn(out)!;
		expect(out).toContain("Wrote MCP_AUTH_TOKENS to");
		expect(out).not.toContain("sk-live-secret-key-of-the-developer");
		const text = readFileSync(join(dir, ".dev.vars"), "utf8");
		expect(text.split("\n").filter((l) => l.startsWith("MCP_AUTH_TOKENS="))).toHaveLength(1);
		for (const kept of ["# my settings", "STAGE0_API_KEY=sk-live-secret-key-of-the-developer", "LOCAL_ROLE=admin"])
			expect(text).toContain(kept);
		expect(text).not.toContain(token);

		// What `wrangler dev` will give the Worker, parsed by wrangler itself.
		const vars = unstable_getVarsForDev(join(dir, "wrangler.jsonc"), undefined, {}, undefined, true) as Record<string, { value: string }>;
		const table = parseTokenTable(vars.MCP_AUTH_TOKENS.value);
		expect(table.map((e) => ({ principal: e.caller.principal, role: e.caller.role }))).toEqual([
			{ principal: "bob", role: "admin" },
			{ principal: "dave", role: "developer" },
		]);
		expect(JSON.parse(vars.MCP_AUTH_TOKENS.value)[sha256(token)]).toEqual({ principal: "dave", role: "developer" });
	});

	it("refuses a .dev.vars whose MCP_AUTH_TOKENS is not a valid table, and leaves it as it was", () => {
		const broken = "MCP_AUTH_TOKENS={not json\nSTAGE0_API_KEY=sk-live-secret-key-of-the-developer\n";
		writeFileSync(join(dir, ".dev.vars"), broken);
		const { code, out, err } = tokenNew("--principal", "erin", "--role", "viewer", "--write");
		expect(code).toBe(2);
		expect(err).toContain("MCP_AUTH_TOKENS is not valid JSON. Fix or remove that line");
		expect(err).not.toMatch(STACK);
		expect(`${out}${err}`).not.toContain("sk-live-secret-key-of-the-developer");
		expect(out).not.toMatch(/sg_/);
		expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe(broken);
	});
});
