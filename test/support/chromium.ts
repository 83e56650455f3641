/**
 * The one way tests start a browser: the system's Chromium (Debian's
 * /usr/bin/chromium, or CHROMIUM_PATH), headless, driven by playwright-core.
 * Never a downloaded browser. Where none is found, launching fails with the
 * instruction to install one: a browser test is never skipped silently.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { type Browser, chromium } from "playwright-core";

/** What this machine (root, no GPU, no display, loopback only) needs; nothing reaches out to Google. */
export const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

const NAMES = ["chromium", "chromium-browser"];

export const INSTALL_HINT =
	"The browser tests need Chromium. On Debian/Ubuntu: `sudo apt-get install chromium`; " +
	"elsewhere set CHROMIUM_PATH to a Chromium or Chrome executable.";

function isExecutable(path: string): boolean {
	try {
		accessSync(path, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** CHROMIUM_PATH when set (it must exist), else `chromium` or `chromium-browser` on PATH; throws with the install hint. */
export function findChromium(env: Readonly<Record<string, string | undefined>> = process.env): string {
	const configured = env.CHROMIUM_PATH?.trim();
	if (configured) {
		if (isExecutable(configured)) return configured;
		throw new Error(`CHROMIUM_PATH=${configured} is not an executable file. ${INSTALL_HINT}`);
	}
	const dirs = [...(env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin"];
	for (const name of NAMES) for (const dir of dirs) if (isExecutable(join(dir, name))) return join(dir, name);
	throw new Error(`No Chromium found (looked for ${NAMES.join(", ")} on PATH). ${INSTALL_HINT}`);
}

/**
 * Launches headless Chromium with CHROMIUM_ARGS. playwright-core gives each
 * launch a fresh temporary --user-data-dir and removes it on close (it refuses
 * one passed in args), so no profile is shared between tests or runs.
 */
export async function launchChromium(): Promise<Browser> {
	return chromium.launch({ executablePath: findChromium(), headless: true, args: CHROMIUM_ARGS });
}
