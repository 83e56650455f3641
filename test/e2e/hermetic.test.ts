/**
 * A developer who followed the README has tokens and a Stage0 key in .dev.vars
 * (or .env). The tests must not see them: this runs the in-Worker tests and a
 * `wrangler dev` of the tests (scripts/lib/dev-server.ts) in a copy of the
 * project that holds a deliberately hostile .dev.vars and .env, whose Stage0
 * is a loopback stand-in that records anything sent to it.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stage0StandIn, startStage0StandIn } from "../support/stage0-standin";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "node_modules/.bin");
const COPIED = [
	"package.json",
	"tsconfig.json",
	"vitest.config.ts",
	"wrangler.jsonc",
	"worker-configuration.d.ts",
	"src",
	"test",
	"scripts",
	"policies",
];

/** Starts the copy's test server as tests, demos and bench do, and reports what it says about itself. */
const PROBE = `
import { startDevServer } from "./scripts/lib/dev-server.ts";
const server = await startDevServer();
try {
	const health = await (await fetch(server.origin + "/health")).json();
	const initialize = { jsonrpc: "2.0", id: 1, method: "initialize",
		params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "probe", version: "1" } } };
	const mcp = await fetch(server.origin + "/mcp", { method: "POST", body: JSON.stringify(initialize),
		headers: { "content-type": "application/json", accept: "application/json, text/event-stream" } });
	console.log(JSON.stringify({ health, mcpStatus: mcp.status }));
} finally {
	await server.stop();
}
`;

/**
 * Starts the copy's server as `npm run dev` does (scripts/dev.ts: the developer's own .dev.vars is read)
 * and reports what it says about itself.
 */
const DEV_PROBE = `
import { startDevServer } from "./scripts/lib/dev-server.ts";
const server = await startDevServer({ developerConfig: true });
try {
	const health = await (await fetch(server.origin + "/health")).json();
	const home = await (await fetch(server.origin + "/")).json();
	console.log(JSON.stringify({ health, upstreams: home.upstreams.map((u) => u.name) }));
} finally {
	await server.stop();
}
`;

let copy: string;
let stage0: Stage0StandIn;

/** A developer's file: their own token table, a real-looking key, and knobs that would change the tests' answers. */
function hostile(source: string): string {
	const tokens = JSON.stringify({ ["ab".repeat(32)]: { principal: `dev-${source}`, role: "admin" } });
	return [
		`MCP_AUTH_TOKENS=${tokens}`,
		`STAGE0_API_KEY=sk-live-from-${source}-0123456789`,
		`STAGE0_BASE_URL=${stage0.url}`,
		"MAX_RETRIES=1",
		"LOCAL_ROLE=viewer",
		"RATE_LIMIT_PER_MINUTE=1",
		// wrangler's own switches, had it read the file for itself
		"CLOUDFLARE_INCLUDE_PROCESS_ENV=true",
		"",
	].join("\n");
}

function run(command: string, args: string[], timeout: number) {
	// Not inherited from this run's vitest.config.ts: the copy must get there by itself.
	const { CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: _a, CLOUDFLARE_INCLUDE_PROCESS_ENV: _b, ...env } = process.env;
	const result = spawnSync(command, args, {
		cwd: copy,
		encoding: "utf8",
		timeout,
		// as under `npm test`: the project's Node 24 first
		env: { ...env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}`, NO_COLOR: "1" },
	});
	return { code: result.status, out: `${result.stdout}\n${result.stderr}` };
}

/** hermetic-env checks every variable of each project and what /health says (mode, authentication). */
function vitestInCopy(...projects: string[]) {
	return run(join(BIN, "vitest"), ["run", ...projects.flatMap((p) => ["--project", p]), "test/worker/hermetic-env.test.ts"], 240_000);
}

beforeAll(async () => {
	stage0 = await startStage0StandIn();
	copy = mkdtempSync(join(tmpdir(), "edge-guard-hermetic-"));
	for (const entry of COPIED) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
	symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
});
afterAll(async () => {
	await stage0?.close();
	if (copy) rmSync(copy, { recursive: true, force: true });
});

describe("tests ignore a developer's .dev.vars and .env", () => {
	it("the in-Worker projects see only their own variables next to a hostile .dev.vars", { timeout: 300_000 }, () => {
		writeFileSync(join(copy, ".dev.vars"), hostile(".dev.vars"));
		const { code, out } = vitestInCopy("worker-simulated", "worker-tokens");
		expect(code, out).toBe(0);
		expect(out).toMatch(/Tests\s+\d+ passed/);
		expect(stage0.received).toHaveLength(0);
	});

	it("the in-Worker project sees only its own variables next to a hostile .env (and no .dev.vars)", { timeout: 300_000 }, () => {
		rmSync(join(copy, ".dev.vars"), { force: true });
		writeFileSync(join(copy, ".env"), hostile(".env"));
		const { code, out } = vitestInCopy("worker-simulated");
		expect(code, out).toBe(0);
		expect(stage0.received).toHaveLength(0);
	});

	it("a wrangler dev started for tests, demos and bench runs on wrangler.jsonc and its own vars only", { timeout: 180_000 }, () => {
		writeFileSync(join(copy, ".dev.vars"), hostile(".dev.vars"));
		writeFileSync(join(copy, ".env"), hostile(".env"));
		writeFileSync(join(copy, "probe.mts"), PROBE);
		const { code, out } = run(join(BIN, "tsx"), ["probe.mts"], 150_000);
		expect(code, out).toBe(0);
		const line = out.split("\n").find((l) => l.startsWith('{"health"'));
		expect(line, out).toBeDefined();
		const { health, mcpStatus } = JSON.parse(line!);
		expect(health).toMatchObject({ mode: "simulated", stage0: null, authentication: "loopback-only", max_retries: 5 });
		expect(mcpStatus).toBe(200);
		expect(stage0.received).toHaveLength(0);
		expect(out).not.toContain("sk-live-from");
	});
});

describe("npm run dev reads the developer's .dev.vars", () => {
	it("their tokens, Stage0 key and upstream reach the Worker, and the key is never printed", { timeout: 180_000 }, () => {
		rmSync(join(copy, ".env"), { force: true });
		const tokens = JSON.stringify({ ["cd".repeat(32)]: { principal: "dev-own", role: "admin" } });
		writeFileSync(
			join(copy, ".dev.vars"),
			[
				`MCP_AUTH_TOKENS=${tokens}`,
				"STAGE0_API_KEY=sk-live-developers-own-0123456789",
				`STAGE0_BASE_URL=${stage0.url}`,
				// a var with no default in wrangler.jsonc, and a secret: the gateway's single upstream
				"UPSTREAM_MCP_URL=http://127.0.0.1:9/mcp",
				'UPSTREAM_MCP_HEADERS={"Authorization":"Bearer upstream-secret-0123456789"}',
				"",
			].join("\n"),
		);
		writeFileSync(join(copy, "dev-probe.mts"), DEV_PROBE);
		const { code, out } = run(join(BIN, "tsx"), ["dev-probe.mts"], 150_000);
		expect(code, out).toBe(0);
		const line = out.split("\n").find((l) => l.startsWith('{"health"'));
		expect(line, out).toBeDefined();
		const { health, upstreams } = JSON.parse(line!);
		expect(health).toMatchObject({ mode: "stage0", authentication: "bearer" });
		expect(upstreams).toEqual(["upstream"]);
		expect(out).not.toContain("sk-live-developers-own");
		expect(out).not.toContain("upstream-secret-0123456789");
	});
});
