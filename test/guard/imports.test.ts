/** The guard core stays transport-free: src/guard imports only src/guard, zod and standard modules. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const GUARD = join(import.meta.dirname, "../../src/guard");

/** Every module specifier a file names: static imports and exports, and dynamic import(). */
function specifiers(source: string): string[] {
	const found: string[] = [];
	for (const m of source.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) found.push(m[1]);
	return found;
}

describe("src/guard", () => {
	const files = readdirSync(GUARD).filter((f) => f.endsWith(".ts"));

	it("has modules to check", () => {
		expect(files).toContain("pipeline.ts");
	});

	it.each(files)("%s imports only src/guard, zod and node: modules", (file) => {
		const outside = specifiers(readFileSync(join(GUARD, file), "utf8")).filter(
			(s) => !(s.startsWith("./") || s === "zod" || s.startsWith("node:")),
		);
		expect(outside).toEqual([]);
	});
});
