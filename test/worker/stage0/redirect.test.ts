/**
 * A redirect from Stage0 is never followed, by the runtime's own fetch: the
 * check and the key stay with STAGE0_BASE_URL's origin, and the call fails
 * closed. The redirecting hosts are the outbound service of this project
 * (test/support/redirecting-stage0.ts), so workerd itself sees the 3xx.
 */
import { describe, expect, it, vi } from "vitest";
import { Stage0Client } from "../../../src/guard/stage0-client";
import { call } from "../support/mcp";
import { PUBLISH_CHECK } from "../../support/check-request";
import { loopbackClient, STAGE0_KEY } from "../support/stage0";

const evilSeen = async () => (await (await fetch("https://evil.test/__seen")).json()) as { method: string; hadKey: boolean }[];

const loopback = loopbackClient();

describe("Stage0 redirects, through workerd's fetch", () => {
	it("the runtime would follow a 307 with the key (so the test below can fail)", async () => {
		const before = (await evilSeen()).length;
		const followed = await fetch("https://redirecting.test/307/check", { method: "POST", headers: { "x-api-key": "probe" }, body: "{}" });
		expect((await followed.json<{ verdict: string }>()).verdict).toBe("ALLOW");
		expect((await evilSeen()).slice(before)).toEqual([{ method: "POST", hadKey: true }]);
	});

	for (const status of [301, 302, 303, 307, 308]) {
		it(`an HTTP ${status} is a fault: nothing reaches the other host`, async () => {
			const before = (await evilSeen()).length;
			const c = new Stage0Client({ apiKey: STAGE0_KEY, baseUrl: `https://redirecting.test/${status}`, timeoutMs: 2000 });
			const d = await c.check(PUBLISH_CHECK);
			expect(d).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
			expect(d.reason).toBe(`Stage0 answered with a redirect (HTTP ${status}); the check was not sent on.`);
			expect((await evilSeen()).length).toBe(before);
		});
	}

	it("a guarded tool does not run when Stage0 redirects, and says why", async () => {
		const real = globalThis.fetch;
		// STAGE0_BASE_URL is https://stage0.test: its /check is answered by the redirecting host, through the real fetch.
		vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
			const url = new Request(input as RequestInfo, init).url;
			return real(url === "https://stage0.test/check" ? "https://redirecting.test/307/check" : (input as RequestInfo), init);
		});
		const before = (await evilSeen()).length;
		const r = await call(loopback.client, "publish-content", { content: "launch", channel: "blog" });
		expect(r.isError).toBe(true);
		expect(r.structuredContent).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault", executed: false });
		expect(r.content[0].text).toContain("Stage0 answered with a redirect (HTTP 307); the check was not sent on.");
		expect((await evilSeen()).length).toBe(before);
	});
});

describe("Stage0's answer size, through workerd's fetch", () => {
	// (How much the stream was read is asserted in the unit test: here Miniflare's outbound bridge sends it whole.)
	it("a 60 MB ALLOW is not obeyed", async () => {
		const c = new Stage0Client({ apiKey: STAGE0_KEY, baseUrl: "https://redirecting.test/huge", timeoutMs: 20_000 });
		const d = await c.check(PUBLISH_CHECK);
		expect(d).toMatchObject({ verdict: "DENY", decision: "ERROR", source: "fault" });
		expect(d.reason).toBe("Stage0's answer was larger than 1 MB, so it was not used.");
	});
});
