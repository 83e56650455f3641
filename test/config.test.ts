/** The bindings → configuration step: a placeholder key is no key. */
import { describe, expect, it } from "vitest";
import { isPlaceholderKey, readConfig } from "../src/config";

describe("readConfig", () => {
	it("runs in simulated mode, with a warning, when STAGE0_API_KEY is the example's placeholder", () => {
		const config = readConfig({ STAGE0_API_KEY: "your_api_key_here" });
		expect(config.mode).toBe("simulated");
		expect(config.apiKey).toBeUndefined();
		expect(config.warnings).toHaveLength(1);
		expect(config.warnings[0]).toMatch(/STAGE0_API_KEY holds a placeholder .* SIMULATED mode/);
		expect(config.warnings[0]).not.toContain("your_api_key_here");
	});

	it.each(["YOUR_API_KEY_HERE", " your-api-key ", "your_stage0_api_key", "<your key>", "${STAGE0_API_KEY}", "changeme", "xxxxxxxx", "..."])(
		"takes %j for a placeholder",
		(value) => {
			expect(isPlaceholderKey(value)).toBe(true);
			expect(readConfig({ STAGE0_API_KEY: value }).mode).toBe("simulated");
		},
	);

	it.each(["sk-live-0123456789abcdef", "s0_AbCdEf123456", "your-key-3f9a8b7c6d5e4f3a"])("takes %j for a real key", (value) => {
		expect(isPlaceholderKey(value)).toBe(false);
		const config = readConfig({ STAGE0_API_KEY: value });
		expect(config).toMatchObject({ mode: "stage0", apiKey: value, warnings: [] });
	});

	it("has no key and no warning when STAGE0_API_KEY is absent or blank", () => {
		for (const env of [{}, { STAGE0_API_KEY: "" }, { STAGE0_API_KEY: "   " }]) {
			expect(readConfig(env)).toMatchObject({ mode: "simulated", warnings: [] });
		}
	});
});
