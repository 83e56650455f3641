/**
 * The guard as a library (src/lib.ts), as a user meets it: the package as
 * `npm pack` would ship it, and examples/guarded-worker (its own wrangler
 * config and two tools, importing the package by name) built by wrangler dev
 * on loopback and driven with the official MCP SDK client.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../scripts/lib/dev-server";
import { TOKENS, tokenTableJson } from "../support/test-tokens";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const EXAMPLE = join(ROOT, "examples/guarded-worker");
const BIN = join(ROOT, "node_modules/.bin");
const PATH = `${BIN}:${process.env.PATH ?? ""}`;

/** What these tests read of a guarded tool's structuredContent (the rest is compared with toMatchObject). */
type Structured = Record<string, unknown> & { request_id: string; approval: { id: string }; records: { request_id: string }[] };
type Result = { structuredContent?: Structured; isError?: boolean; content: { type: string; text: string }[] };

describe("the package", () => {
	beforeAll(async () => {
		await run("npm", ["run", "--silent", "build"], { cwd: ROOT, env: { ...process.env, PATH } });
	}, 150_000);

	it("packs its public entry, its type declarations and the bundled policy, and no tests", async () => {
		const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
			cwd: ROOT,
			env: { ...process.env, PATH },
		});
		const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
		const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
		expect(manifest.sideEffects).toBe(false);
		expect(manifest.exports["."].default).toBe("./src/lib.ts");
		expect(manifest.exports["."].types[0]).toBe(manifest.types);
		for (const needed of [
			"package.json",
			"README.md",
			"src/lib.ts",
			manifest.types.replace(/^\.\//, ""),
			"src/agent/guard-session.ts",
			"src/state/approval-store.ts",
			"policies/default.cedar",
			"policies/schema.cedarschema",
		])
			expect(files).toContain(needed);
		expect(
			files.filter((f) => f.startsWith("test/") || f.startsWith("examples/") || f.includes(".dev.vars") || f.startsWith("bench/")),
		).toEqual([]);
	});

	it("the example imports the package only by its name, and type-checks against the shipped declarations", async () => {
		const sources = readdirSync(join(EXAMPLE, "src")).map((f) => readFileSync(join(EXAMPLE, "src", f), "utf8"));
		const specifiers = sources.flatMap((s) => [...s.matchAll(/from "([^"]+)"/g)].map((m) => m[1]));
		expect(specifiers).toContain("stage0-edge-guard");
		expect(specifiers.filter((s) => s.startsWith("."))).toEqual([]);
		// Fails (and prints tsc's errors) when the example no longer compiles.
		await run(join(BIN, "tsc"), ["-p", EXAMPLE], { cwd: ROOT });
	}, 150_000);

	it("installed in an app of its own (deps hoisted, as npm installs them), the example builds with wrangler and type-checks", async () => {
		const app = mkdtempSync(join(tmpdir(), "edge-guard-app-"));
		try {
			const env = { ...process.env, PATH };
			await run("npm", ["pack", "--ignore-scripts", "--pack-destination", app], { cwd: ROOT, env });
			const installed = join(app, "node_modules/stage0-edge-guard");
			mkdirSync(installed, { recursive: true });
			await run("tar", [
				"xzf",
				join(
					app,
					readdirSync(app).find((f) => f.endsWith(".tgz"))!,
				),
				"-C",
				installed,
				"--strip-components=1",
			]);
			// Its dependencies next to it, not inside it: a path into the package's own node_modules would not resolve.
			for (const name of readdirSync(join(ROOT, "node_modules")))
				if (name !== "stage0-edge-guard") symlinkSync(join(ROOT, "node_modules", name), join(app, "node_modules", name));
			cpSync(join(EXAMPLE, "src"), join(app, "src"), { recursive: true });
			cpSync(join(EXAMPLE, "tsconfig.json"), join(app, "tsconfig.json"));
			writeFileSync(
				join(app, "wrangler.jsonc"),
				readFileSync(join(EXAMPLE, "wrangler.jsonc"), "utf8").replace("../../node_modules/", "node_modules/"),
			);
			writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
			const built = await run(join(BIN, "wrangler"), ["deploy", "--dry-run", "--outdir", join(app, "out")], {
				cwd: app,
				env: { ...env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
			});
			expect(built.stdout).toContain("--dry-run: exiting now.");
			expect(readdirSync(join(app, "out")).some((f) => f.endsWith("cedar_wasm_bg.wasm"))).toBe(true);
			await run(join(BIN, "tsc"), ["-p", app], { cwd: app });
		} finally {
			rmSync(app, { recursive: true, force: true });
		}
	}, 150_000);

	it("the README shows the whole example: its source, its wrangler config and its policy, as they are", () => {
		const readme = readFileSync(join(ROOT, "README.md"), "utf8");
		expect(readme).toContain(`\`\`\`ts\n${readFileSync(join(EXAMPLE, "src/index.ts"), "utf8")}\`\`\``);
		// oxfmt gives JSONC in Markdown trailing commas, and wrangler.jsonc none (.oxfmtrc.json): the same config either way.
		const noTrailingCommas = (text: string) => text.replace(/,(\s*[}\]])/g, "$1");
		expect(noTrailingCommas(readme)).toContain(`\`\`\`jsonc\n${readFileSync(join(EXAMPLE, "wrangler.jsonc"), "utf8")}\`\`\``);
		expect(readme).toContain(`\`\`\`cedar\n${readFileSync(join(EXAMPLE, "policy.cedar"), "utf8")}\`\`\``);
	});
});

describe("examples/guarded-worker, end to end", () => {
	let server: DevServer;

	beforeAll(async () => {
		// Simulated mode (no STAGE0_API_KEY), bearer tokens: the repository's test principals; the shop's policy.
		server = await startDevServer({
			config: join(EXAMPLE, "wrangler.jsonc"),
			vars: { MCP_AUTH_TOKENS: tokenTableJson(), GUARD_POLICY: readFileSync(join(EXAMPLE, "policy.cedar"), "utf8") },
		});
	});
	afterAll(async () => {
		await server?.stop();
	});

	const bearer = (who: keyof typeof TOKENS) => ({ Authorization: `Bearer ${TOKENS[who].token}` });

	async function connect(who: keyof typeof TOKENS): Promise<Client> {
		const client = new Client({ name: `e2e-library-${who}`, version: "1" });
		await client.connect(new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { requestInit: { headers: bearer(who) } }));
		return client;
	}
	const call = async (client: Client, name: string, args: Record<string, unknown>) =>
		(await client.callTool({ name, arguments: args })) as Result;

	async function finalAuditRecord(who: keyof typeof TOKENS, requestId: string) {
		// Records reach the principal's audit log a few milliseconds after the call.
		for (let i = 0; i < 50; i++) {
			const res = await fetch(`${server.origin}/api/audit/${requestId}`, { headers: bearer(who) });
			if (res.ok) {
				const body = (await res.json()) as { records: Record<string, unknown>[] };
				if (body.records.length && body.records.every((r) => r.outcome !== "pending")) return body.records[0];
			}
			await new Promise((r) => setTimeout(r, 100));
		}
		throw new Error(`no final audit record for ${requestId}`);
	}

	it("lists its own two tools with their schemas, approvalId added; a viewer does not see the destructive one", async () => {
		const alice = await connect("alice");
		const { tools } = await alice.listTools();
		expect(tools.map((t) => t.name).sort()).toEqual(["audit-log", "lookup-order", "refund-order"]);
		const refund = tools.find((t) => t.name === "refund-order")!;
		expect(refund.inputSchema.properties).toHaveProperty("amountCents");
		expect(refund.inputSchema.properties).toHaveProperty("approvalId");
		expect(refund.annotations).toMatchObject({ destructiveHint: true, readOnlyHint: false });
		await alice.close();
		const victor = await connect("victor");
		expect((await victor.listTools()).tools.map((t) => t.name).sort()).toEqual(["audit-log", "lookup-order"]);
		await victor.close();
	});

	it("runs an ALLOWed call, refuses a DENYed one without running it, and the audit trail records both", async () => {
		const client = await connect("alice");
		const allowed = await call(client, "lookup-order", { orderId: "ord_42" });
		expect(allowed.isError).toBeFalsy();
		expect(allowed.structuredContent).toMatchObject({
			verdict: "ALLOW",
			executed: true,
			source: "simulated",
			result: { orderId: "ord_42", status: "shipped" },
		});
		expect(allowed.content[0].text).toContain("Order ord_42 is shipped.");

		const denied = await call(client, "refund-order", { orderId: "ord_42", amountCents: 1999 });
		expect(denied.isError).toBe(true);
		expect(denied.structuredContent).toMatchObject({
			verdict: "DENY",
			executed: false,
			approval: { status: "pending", approver: "admin" },
		});
		expect(denied.structuredContent).not.toHaveProperty("result");
		expect(denied.content[0].text).toContain("The action was NOT run.");

		const ran = await finalAuditRecord("alice", allowed.structuredContent!.request_id);
		expect(ran).toMatchObject({ principal: "alice", role: "developer", tool: "lookup-order", verdict: "ALLOW", outcome: "executed" });
		const refused = await finalAuditRecord("alice", denied.structuredContent!.request_id);
		expect(refused).toMatchObject({ principal: "alice", tool: "refund-order", verdict: "DENY", outcome: "not_run" });
		// The same records through the audit-log tool.
		const own = await call(client, "audit-log", { limit: 10 });
		const ids = own.structuredContent!.records.map((r) => r.request_id);
		expect(ids).toEqual(expect.arrayContaining([allowed.structuredContent!.request_id, denied.structuredContent!.request_id]));
		await client.close();
	});

	it("runs a held call once a person approved it, exactly once", async () => {
		const client = await connect("alice");
		const args = { orderId: "ord_7", amountCents: 500 };
		const held = await call(client, "refund-order", args);
		const id = held.structuredContent!.approval.id;
		const approve = await fetch(`${server.origin}/api/approvals/${id}/approve`, {
			method: "POST",
			headers: { ...bearer("bob"), "content-type": "application/json" },
			body: JSON.stringify({ note: "customer called" }),
		});
		expect(approve.status).toBe(200);
		const ran = await call(client, "refund-order", { ...args, approvalId: id });
		expect(ran.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true, result: { orderId: "ord_7", refundedCents: 500 } });
		const again = await call(client, "refund-order", { ...args, approvalId: id });
		expect(again.isError).toBe(true);
		expect(again.structuredContent).toMatchObject({ executed: false });
		await client.close();
	});

	it("holds a refund over 1,000.00 by the shop's GUARD_POLICY rule on its amountCents, before the authority is asked; approved, it runs", async () => {
		const client = await connect("alice");
		const args = { orderId: "ord_big", amountCents: 250_000 };
		const held = await call(client, "refund-order", args);
		expect(held.isError).toBe(true);
		expect(held.structuredContent).toMatchObject({
			verdict: "DEFER",
			source: "local-rule",
			executed: false,
			reason: "Held by local rule 'large-refunds-need-a-person': a refund over 1,000.00 runs only with a person's approval.",
			approval: { status: "pending", approver: "admin" },
		});
		// At the limit the rule says nothing: the authority (here the simulator) decides, as for any refund.
		const small = await call(client, "refund-order", { orderId: "ord_big", amountCents: 100_000 });
		expect(small.structuredContent).toMatchObject({ verdict: "DENY", source: "simulated", executed: false });

		const approve = await fetch(`${server.origin}/api/approvals/${held.structuredContent!.approval.id}/approve`, {
			method: "POST",
			headers: { ...bearer("bob"), "content-type": "application/json" },
			body: JSON.stringify({ note: "damaged shipment, checked" }),
		});
		expect(approve.status).toBe(200);
		const ran = await call(client, "refund-order", { ...args, approvalId: held.structuredContent!.approval.id });
		expect(ran.structuredContent).toMatchObject({
			verdict: "ALLOW",
			executed: true,
			result: { orderId: "ord_big", refundedCents: 250_000 },
		});
		await client.close();
	});

	it("binds a session to the token that opened it: another token, of another principal or of the same one, reaches nothing", async () => {
		const transport = new StreamableHTTPClientTransport(new URL(`${server.origin}/mcp`), { requestInit: { headers: bearer("alice") } });
		const alice = new Client({ name: "e2e-library-alice", version: "1" });
		await alice.connect(transport);
		const sessionId = transport.sessionId!;
		expect(sessionId).toBeTruthy();
		const since = Date.now();

		// The session id was learnt (a log, a proxy); the thief holds a valid token of its own.
		for (const thief of ["bob", "aliceViewer"] as const) {
			const res = await fetch(`${server.origin}/mcp`, {
				method: "POST",
				headers: {
					...bearer(thief),
					"content-type": "application/json",
					accept: "application/json, text/event-stream",
					"mcp-session-id": sessionId,
					"mcp-protocol-version": transport.protocolVersion ?? "2025-06-18",
				},
				body: JSON.stringify({
					jsonrpc: "2.0",
					id: 7,
					method: "tools/call",
					params: { name: "lookup-order", arguments: { orderId: "ord_stolen" } },
				}),
			});
			expect(res.status, `${thief} on alice's session`).toBe(404);
			expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" } });
		}

		// Alice's own token keeps working on it.
		const mine = await call(alice, "lookup-order", { orderId: "ord_mine" });
		expect(mine.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true, result: { orderId: "ord_mine" } });
		await finalAuditRecord("alice", mine.structuredContent!.request_id);
		// Nothing ran for the thieves: the trail since then (bob is an admin and reads every principal's) holds alice's call only.
		const res = await fetch(`${server.origin}/api/audit?since=${since}`, { headers: bearer("bob") });
		const { records } = (await res.json()) as { records: { request_id: string; principal: string; role: string }[] };
		expect(records.map((r) => [r.principal, r.role, r.request_id])).toEqual([["alice", "developer", mine.structuredContent!.request_id]]);
		await alice.close();
	});

	it("refuses a request without a bearer token before any session starts", async () => {
		const res = await fetch(`${server.origin}/mcp`, {
			method: "POST",
			headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
			body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
		});
		expect(res.status).toBe(401);
	});
});
