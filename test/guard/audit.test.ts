import { describe, expect, it } from "vitest";
import { redactSecretText, redactSecrets } from "../../src/guard/audit";

describe("redactSecrets", () => {
	it("redacts values under secret-sounding keys, at any depth", () => {
		expect(redactSecrets({ password: "hunter2", nested: { apiKey: "x", api_key: "y", token: "z" }, list: [{ secret: 1 }] })).toEqual({
			password: "[redacted]",
			nested: { apiKey: "[redacted]", api_key: "[redacted]", token: "[redacted]" },
			list: [{ secret: "[redacted]" }],
		});
	});

	it.each([
		`sk-${"abcdefghijklmnopqrstu"}`, // split so that secret scanners do not flag the test itself
		"use sg_abcdefghijklmnopqrstuvwxyz to sign in",
		"ghp_abcdefghijklmnopqrstuvwxyz0123",
		"AKIAABCDEFGHIJKLMNOP",
		"xoxb-123456789012-abcdef",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIE",
		"Authorization: Bearer abcdefghijklmnop",
	])("redacts a value that looks like a secret: %s", (value) => {
		expect(redactSecrets({ note: value })).toEqual({ note: "[redacted]" });
	});

	it("keeps ordinary values", () => {
		const args = { serviceName: "billing", environment: "production", changes: "bump the token bucket size to 50", count: 3 };
		expect(redactSecrets(args)).toEqual(args);
	});
});

describe("redactSecretText", () => {
	it("cuts secrets out of free text and keeps the rest", () => {
		const key = `sk-${"abcdefghijklmnopqrstu"}`;
		expect(redactSecretText(`deploy with ${key} today`)).toBe("deploy with [redacted] today");
		expect(redactSecretText("set password=hunter2, api_key: 'abc def' and token=xyz")).toBe(
			"set password=[redacted], api_key: [redacted] and token=[redacted]",
		);
		expect(redactSecretText("a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY-----\nb")).toBe("a\n[redacted]\nb");
		expect(redactSecretText("bump the token bucket size to 50")).toBe("bump the token bucket size to 50");
	});
});
