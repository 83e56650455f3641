/** Finding the browser: a missing Chromium is a failure that says how to install one, never a skip. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findChromium } from "./chromium";

const dir = mkdtempSync(join(tmpdir(), "edge-guard-chromium-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("findChromium", () => {
	it("uses CHROMIUM_PATH when it is an executable", () => {
		const exe = join(dir, "my-chrome");
		writeFileSync(exe, "#!/bin/sh\n");
		chmodSync(exe, 0o755);
		expect(findChromium({ CHROMIUM_PATH: exe, PATH: "" })).toBe(exe);
	});

	it("finds chromium on PATH", () => {
		const exe = join(dir, "chromium");
		writeFileSync(exe, "#!/bin/sh\n");
		chmodSync(exe, 0o755);
		expect(findChromium({ PATH: dir })).toBe(exe);
	});

	it("a CHROMIUM_PATH that is not there fails with the install instruction", () => {
		expect(() => findChromium({ CHROMIUM_PATH: join(dir, "nope"), PATH: dir })).toThrow(
			/CHROMIUM_PATH=.*nope is not an executable file\. .*apt-get install chromium.*CHROMIUM_PATH/,
		);
	});
});
