/**
 * The quick start's approval loop as a person meets it: `npm run dev -- --port N`
 * prints an approver link; opened in Debian's Chromium it signs the page in as
 * the operator; the linked request is the first thing seen; approving takes a
 * confirmation and shows its result on the card; the agent's retry then runs
 * once. Plus the page's layout at a phone and a desktop width (screenshots are
 * kept in a temp dir for a person to look at).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/dev-server";
import { launchChromium } from "../support/chromium";
import { type ApiAnswer, heldApproval, type ToolResult } from "../support/results";
const SHOTS = mkdtempSync(join(tmpdir(), "approvals-page-shots-"));

interface Launched {
	child: ChildProcess;
	output: () => string;
	link: string;
	origin: string;
	state: string;
}

/**
 * Runs `npm run dev` as a person would, and waits for the approver link it prints.
 * `port` picks the port (a fresh free one per attempt: on a shared machine another
 * process may take a free port before wrangler binds it, so one retry is allowed).
 */
async function npmRunDev(how: (port: number) => { args: string[]; env?: Record<string, string> }): Promise<Launched> {
	try {
		return await npmRunDevOnce(how(await freePort()));
	} catch (error) {
		if (!/already in use|EADDRINUSE/.test(String(error))) throw error;
		return npmRunDevOnce(how(await freePort()));
	}
}

async function npmRunDevOnce({ args, env = {} }: { args: string[]; env?: Record<string, string> }): Promise<Launched> {
	const state = mkdtempSync(join(tmpdir(), "edge-guard-npm-dev-"));
	const child = spawn("npm", ["run", "dev", "--", ...args, "--persist-to", state], {
		cwd: process.cwd(),
		detached: true, // its own process group: stopped below as Ctrl-C would
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, PORT: "", ...env },
	});
	let out = "";
	child.stdout?.on("data", (d) => (out += d));
	child.stderr?.on("data", (d) => (out += d));
	const deadline = Date.now() + 80_000;
	while (Date.now() < deadline && child.exitCode === null) {
		const match = /Approver link[^\n]*\n\s+(http:\/\/127\.0\.0\.1:(\d+)\/approvals#operator=(op_[A-Za-z0-9_-]+))/.exec(out);
		if (match) return { child, output: () => out, link: match[1], origin: `http://127.0.0.1:${match[2]}`, state };
		await new Promise((r) => setTimeout(r, 200));
	}
	await stop({ child, output: () => out, link: "", origin: "", state });
	throw new Error(`npm run dev printed no approver link. Its output:\n${out}`);
}

/** Ctrl-C: SIGINT to the launcher's process group; resolves when it has exited. */
async function stop(run: Launched): Promise<void> {
	if (run.child.exitCode === null && run.child.pid) {
		const exited = new Promise((r) => run.child.once("exit", r));
		process.kill(-run.child.pid, "SIGINT");
		await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
	}
	rmSync(run.state, { recursive: true, force: true });
}

async function agent(origin: string): Promise<Client> {
	const client = new Client({ name: "e2e-quick-start-agent", version: "1" });
	await client.connect(new StreamableHTTPClientTransport(new URL(`${origin}/mcp`)));
	return client;
}

type Result = ToolResult;
/** The browser globals read in page.evaluate (this project's tsconfig has no DOM lib). */
type InPage = {
	document: { activeElement: { id: string } | null; documentElement: { scrollWidth: number } };
	innerWidth: number;
	innerHeight: number;
};
const publish = (client: Client, content: string, channel = "blog") =>
	client.callTool({ name: "publish-content", arguments: { content, channel } }) as Promise<Result>;

let run: Launched;
let browser: Browser;
let alice: Client;

beforeAll(async () => {
	let port = 0;
	run = await npmRunDev((p) => ((port = p), { args: ["--port", String(p)] }));
	expect(run.origin).toBe(`http://127.0.0.1:${port}`);
	browser = await launchChromium(); // without a browser this fails with the install instruction
	alice = await agent(run.origin);
}, 120_000);

afterAll(async () => {
	await alice?.close().catch(() => {});
	await browser?.close();
	if (run) await stop(run);
	console.log(`approvals page screenshots: ${SHOTS}`);
});

async function signedIn(page: Page): Promise<void> {
	await page.goto(run.link);
	await expect.poll(() => page.textContent("#who")).toBe("Signed in as operator (admin)");
}

describe("npm run dev -- --port N, and its approver link", () => {
	it("serves on the chosen port; the link signs the page in as operator and leaves no secret in the address bar", async () => {
		const secret = run.link.split("#operator=")[1];
		const health: unknown = await (await fetch(`${run.origin}/health`)).json();
		expect(health).toMatchObject({ name: "stage0-edge-guard", authentication: "loopback-only" });
		const page = await browser.newPage();
		await signedIn(page);
		expect(page.url()).toBe(`${run.origin}/approvals`);
		expect(await page.evaluate(() => sessionStorage.getItem("stage0-guard-token"))).toBe(secret);
		// The same secret works as a bearer token on the approvals API (page and curl alike), and nowhere else.
		const api = await fetch(`${run.origin}/api/approvals`, { headers: { authorization: `Bearer ${secret}` } });
		expect(((await api.json()) as ApiAnswer).viewer).toEqual({ principal: "operator", role: "admin" });
		// the history entry with the secret was replaced, not kept behind the current one
		await page.goBack();
		expect(page.url()).toBe("about:blank");
		await page.close();
	});

	it("the linked request comes first and in view; approving asks to confirm, shows the result on the card, and the retry runs once", async () => {
		// The linked request is the oldest of several, so the list alone would put it last.
		const held = await publish(alice, "Quick-start launch post");
		const approval = heldApproval(held);
		expect(approval.approver).toBe("operator");
		expect(held.content[0].text).toContain("the operator can approve it with the approver link printed by npm run dev");
		for (let i = 1; i <= 5; i++) await publish(alice, `Filler post ${i}`, "news");

		const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
		await signedIn(page);
		await page.goto(approval.url); // the agent's link, in the signed-in tab
		const card = page.locator(`#linked #approval-${approval.id}`);
		await card.waitFor();
		// first card on the page, in view, focused
		expect(await page.locator("section.card").first().getAttribute("id")).toBe(`approval-${approval.id}`);
		await expect
			.poll(() => page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.id))
			.toBe(`approval-${approval.id}`);
		const box = (await card.boundingBox())!;
		expect(box.y).toBeGreaterThanOrEqual(0);
		expect(box.y).toBeLessThan(800);
		const text = await card.innerText();
		expect(text).toContain("local (developer)");
		expect(text).toContain("SIDE_EFFECTS_NEED_GUARDRAILS");
		expect(text).toMatch(/Risk\s+\d+ \/ 100/);
		expect(text).toMatch(/expires in 1[45] min/);
		expect(text).not.toMatch(/\d{4}-\d\d-\d\dT/); // no raw UTC timestamps

		await card.locator("input.note").fill("checked the text");
		await card.locator("button.approve").click();
		// a confirmation, and nothing decided yet
		await card.locator(".confirm button.confirm-yes").waitFor();
		const secret = run.link.split("#operator=")[1];
		const before = (await (
			await fetch(`${run.origin}/api/approvals/${approval.id}`, { headers: { authorization: `Bearer ${secret}` } })
		).json()) as ApiAnswer;
		expect(before.approval.status).toBe("pending");
		await card.locator(".confirm button.confirm-yes").click();
		await expect.poll(() => card.locator(".result").textContent()).toContain("Approved publish-content for local");
		expect(await card.locator(".badge").first().textContent()).toBe("approved");
		const after = (await card.boundingBox())!;
		expect(after.y).toBeGreaterThanOrEqual(0);
		expect(after.y + 40).toBeLessThan(800); // the result is where the person clicked, not below the list

		const done = (await alice.callTool({
			name: "publish-content",
			arguments: { content: "Quick-start launch post", channel: "blog", approvalId: approval.id },
		})) as Result;
		expect(done.structuredContent).toMatchObject({ verdict: "ALLOW", executed: true });
		const again = (await alice.callTool({
			name: "publish-content",
			arguments: { content: "Quick-start launch post", channel: "blog", approvalId: approval.id },
		})) as Result;
		expect(again.structuredContent).toMatchObject({ executed: false });
		await page.close();
	});

	it("cancel on the confirmation decides nothing", async () => {
		const held = await publish(alice, "Maybe later");
		const { id } = heldApproval(held);
		const page = await browser.newPage();
		await signedIn(page);
		const card = page.locator(`#approval-${id}`);
		await card.locator("button.reject").click();
		await card.locator(".confirm button.confirm-no").click();
		expect(await card.locator("button.reject").isVisible()).toBe(true);
		const secret = run.link.split("#operator=")[1];
		const record = (await (
			await fetch(`${run.origin}/api/approvals/${id}`, { headers: { authorization: `Bearer ${secret}` } })
		).json()) as ApiAnswer;
		expect(record.approval.status).toBe("pending");
		await page.close();
	});

	it("new pending requests appear by themselves, and the requester and tool filters narrow the list", async () => {
		const page = await browser.newPage();
		await signedIn(page);
		const held = await publish(alice, "Arrives while the page is open");
		const { id } = heldApproval(held);
		await page.locator(`#approval-${id}`).waitFor({ timeout: 15_000 }); // no click on Refresh
		const deploy = (await alice.callTool({
			name: "deploy-changes",
			arguments: { serviceName: "billing", environment: "production", changes: "v2" },
		})) as Result;
		const deployId = heldApproval(deploy).id;
		await page.locator(`#approval-${deployId}`).waitFor({ timeout: 15_000 });
		await page.selectOption("#tool", "deploy-changes");
		const tools = await page.locator("#list section.card h2 span:first-child").allTextContents();
		expect(tools.length).toBeGreaterThan(0);
		expect(new Set(tools)).toEqual(new Set(["deploy-changes"]));
		await page.selectOption("#tool", "");
		expect(await page.locator("#requester option").allTextContents()).toEqual(["Anyone", "local"]);
		await page.close();
	});

	it("with the paged API contract: loads more with next_cursor, and fetches full arguments before approval of a truncated item", async () => {
		const held = await publish(alice, `Long post: ${"x".repeat(400)}`);
		const { id } = heldApproval(held);
		const page = await browser.newPage();
		let releaseFull!: () => void;
		const fullAsked = new Promise<void>((r) => (releaseFull = r));
		let fullRequests = 0;
		// Pages of one item, so a second page exists: the server's own list (which cuts long
		// argument strings), split by this route; the page follows next_cursor as it would.
		await page.route(/\/api\/approvals\?/, async (route) => {
			const url = new URL(route.request().url());
			const cursor = url.searchParams.get("cursor");
			url.searchParams.delete("cursor");
			const response = await route.fetch({ url: url.toString() });
			const body = (await response.json()) as ApiAnswer;
			const mine = body.approvals.find((a) => a.id === id);
			expect(mine?.arguments_truncated).toBe(true);
			const others = body.approvals.filter((a) => a.id !== id);
			const approvals = cursor ? [mine] : others.slice(0, 1);
			await route.fulfill({ response, json: { approvals, viewer: body.viewer, ...(cursor ? {} : { next_cursor: "page-2" }) } });
		});
		await page.route(new RegExp(`/api/approvals/${id}$`), async (route) => {
			fullRequests++;
			await fullAsked;
			await route.continue();
		});
		await signedIn(page);
		expect(await page.locator(`#approval-${id}`).count()).toBe(0);
		await page.click("#more");
		const card = page.locator(`#approval-${id}`);
		await card.waitFor();
		expect(await card.locator("pre.args").innerText()).toContain("…");
		expect(await card.locator("pre.args").innerText()).not.toContain("x".repeat(400));
		expect(await card.locator("button.approve").isDisabled()).toBe(true); // not before the person can see everything
		expect(await page.locator("#more").isVisible()).toBe(false); // the last page has no next_cursor
		releaseFull();
		await expect.poll(() => card.locator("pre.args").innerText()).toContain("x".repeat(400));
		expect(await card.locator("button.approve").isDisabled()).toBe(false);
		expect(fullRequests).toBeGreaterThanOrEqual(1);
		await page.close();
	});

	it.each([
		{ name: "phone", width: 390, height: 844 },
		{ name: "desktop", width: 1280, height: 800 },
	])(
		"lays out at $name width ($width px): no sideways scrolling, the linked card in view, buttons big enough",
		async ({ name, width, height }) => {
			const held = await publish(alice, `A post to check at ${width} px: ${"long-unbroken-text-".repeat(12)}`);
			const { id } = heldApproval(held);
			for (let i = 0; i < 2; i++) await publish(alice, `Layout filler ${width}-${i}`);
			const context = await browser.newContext({ viewport: { width, height }, isMobile: width < 600, hasTouch: width < 600 });
			const page = await context.newPage();
			const secret = run.link.split("#operator=")[1];
			await page.goto(`${run.origin}/approvals#operator=${secret}&id=${id}`);
			const card = page.locator(`#linked #approval-${id}`);
			await card.waitFor();
			await expect.poll(() => page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.id)).toBe(`approval-${id}`);
			expect(page.url()).toBe(`${run.origin}/approvals#${id}`);

			const layout = await page.evaluate(() => ({
				scrollWidth: (globalThis as unknown as InPage).document.documentElement.scrollWidth,
				innerWidth: (globalThis as unknown as InPage).innerWidth,
				innerHeight: (globalThis as unknown as InPage).innerHeight,
			}));
			expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
			const box = (await card.boundingBox())!;
			expect(box.x).toBeGreaterThanOrEqual(0);
			expect(box.x + box.width).toBeLessThanOrEqual(layout.innerWidth);
			expect(box.y).toBeGreaterThanOrEqual(0);
			expect(box.y).toBeLessThan(layout.innerHeight / 4); // the first thing seen
			for (const selector of ["button.approve", "button.reject", "input.note"]) {
				const b = (await card.locator(selector).boundingBox())!;
				expect(b.x + b.width, selector).toBeLessThanOrEqual(layout.innerWidth);
				if (width < 600) expect(b.height, `${selector} height`).toBeGreaterThanOrEqual(44);
			}
			await page.screenshot({ path: join(SHOTS, `approvals-${name}-${width}.png`) });
			await card.locator("button.approve").click();
			await card.locator(".confirm").waitFor();
			await page.screenshot({ path: join(SHOTS, `approvals-${name}-${width}-confirm.png`) });
			await context.close();
		},
	);
});

describe("PORT=N npm run dev", () => {
	it("serves on port N and prints the approver link for it", async () => {
		let port = 0;
		const other = await npmRunDev((p) => ((port = p), { args: [], env: { PORT: String(p) } }));
		try {
			expect(other.origin).toBe(`http://127.0.0.1:${port}`);
			expect((await fetch(`${other.origin}/health`)).status).toBe(200);
			// each start has its own secret; the other server's link means nothing here
			expect(other.link.split("#operator=")[1]).not.toBe(run.link.split("#operator=")[1]);
			const stale = await fetch(`${other.origin}/api/approvals`, {
				headers: { authorization: `Bearer ${run.link.split("#operator=")[1]}` },
			});
			expect(stale.status).toBe(401);
		} finally {
			await stop(other);
		}
		// stopped: nothing answers on the port any more
		await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow("fetch failed");
	}, 120_000);
});
