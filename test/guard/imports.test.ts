/** The architecture's rule: src/guard/ imports only src/guard/, zod and standard modules, so the core stays transport-free. */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const GUARD = resolve(import.meta.dirname, "../../src/guard");

/** Every module specifier of a file: imports, re-exports, `import type`, dynamic import() and require(). */
function moduleSpecifiers(fileName: string, text: string): string[] {
	const found: string[] = [];
	const visit = (node: ts.Node) => {
		if (
			(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
			node.moduleSpecifier &&
			ts.isStringLiteral(node.moduleSpecifier)
		) {
			found.push(node.moduleSpecifier.text);
		} else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
			const e = node.moduleReference.expression;
			if (ts.isStringLiteral(e)) found.push(e.text);
		} else if (
			ts.isCallExpression(node) &&
			(node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))
		) {
			const [arg] = node.arguments;
			found.push(arg && ts.isStringLiteral(arg) ? arg.text : "<computed>");
		} else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
			found.push(node.argument.literal.text);
		}
		ts.forEachChild(node, visit);
	};
	visit(ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true));
	return found;
}

/** Allowed: a module inside src/guard/, zod, or a standard module (node:…). */
function allowed(fromFile: string, specifier: string): boolean {
	if (specifier === "zod" || specifier.startsWith("node:")) return true;
	if (!specifier.startsWith(".")) return false;
	const target = relative(GUARD, resolve(dirname(fromFile), specifier));
	return !target.startsWith("..");
}

describe("src/guard/", () => {
	const files = readdirSync(GUARD, { recursive: true, encoding: "utf8" })
		.filter((f) => f.endsWith(".ts"))
		.map((f) => join(GUARD, f));

	it("is where the core lives", () => {
		expect(files.map((f) => relative(GUARD, f))).toContain("pipeline.ts");
	});

	it("imports only itself, zod and standard modules", () => {
		const outside = files.flatMap((file) =>
			moduleSpecifiers(file, readFileSync(file, "utf8"))
				.filter((s) => !allowed(file, s))
				.map((s) => `${relative(GUARD, file)} imports ${s}`),
		);
		expect(outside).toEqual([]);
	});

	it("would notice an adapter import of any form", () => {
		const file = join(GUARD, "example.ts");
		const text = [
			'import type { Env } from "../config";',
			'export { x } from "../tools/result";',
			'const m = await import("../agent/guard-agent");',
			'type T = import("../state/audit-log").AuditLog;',
			'import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";',
			'import { z } from "zod";',
			'import { Stage0Client } from "./stage0-client";',
		].join("\n");
		expect(moduleSpecifiers(file, text).filter((s) => !allowed(file, s))).toEqual([
			"../config",
			"../tools/result",
			"../agent/guard-agent",
			"../state/audit-log",
			"@modelcontextprotocol/sdk/server/mcp.js",
		]);
	});
});
