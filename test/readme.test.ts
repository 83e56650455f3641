/**
 * README.md as a map that cannot go stale: every path it names exists, every
 * source folder is in its Layout, and every ```ts example compiles against the
 * project's own types (as the end of the file its marker names).
 */
import { existsSync, globSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const LINES = README.split("\n");

/** The code block under "## Layout": one path per line (or "a, b"), indented two spaces per folder level. */
function layoutPaths(): string[] {
	const start = LINES.indexOf("## Layout");
	const open = LINES.indexOf("```", start);
	const close = LINES.indexOf("```", open + 1);
	if (start < 0 || open < 0 || close < 0) throw new Error("README.md has no ## Layout code block");
	const folders: string[] = [];
	const paths: string[] = [];
	for (const line of LINES.slice(open + 1, close)) {
		const match = /^( *)(\S+(?:, \S+)*)/.exec(line);
		if (!match) continue;
		const depth = match[1].length / 2;
		folders.length = depth;
		const under = folders.join("");
		for (const name of match[2].split(", ")) paths.push(under + name);
		if (match[2].endsWith("/")) folders[depth] = match[2];
	}
	return paths;
}

/** Paths named in inline code anywhere in the README: `src/…`, `test/…`, `scripts/…`, `bench/…`, `policies/…`. */
function inlinePaths(): string[] {
	return [...README.matchAll(/`((?:src|test|scripts|bench|policies)\/[^`\s]*)`/g)].map((m) => m[1]);
}

/** A path exists, or a pattern matches something; `<name>` is a placeholder for any one name. */
function exists(path: string): boolean {
	const pattern = path.replace(/<[^>/]+>/g, "*");
	return pattern.includes("*") ? globSync(pattern, { cwd: ROOT }).length > 0 : existsSync(join(ROOT, pattern));
}

interface Example {
	/** 1-based line of the README where the code starts. */
	line: number;
	code: string;
	/** The file the example is compiled as the end of (its marker). */
	appendedTo: string | undefined;
}

const MARKER = /^<!-- checked: appended to (\S+) -->$/;

function tsExamples(lines: string[]): Example[] {
	const examples: Example[] = [];
	lines.forEach((line, i) => {
		if (!/^```(ts|typescript)\s*$/.test(line)) return;
		const end = lines.indexOf("```", i + 1);
		const before = lines.slice(0, i).findLast((l) => l.trim() !== "");
		examples.push({ line: i + 2, code: lines.slice(i + 1, end).join("\n"), appendedTo: MARKER.exec(before ?? "")?.[1] });
	});
	return examples;
}

const CONFIG = (() => {
	const file = join(ROOT, "tsconfig.json");
	const { config } = ts.readConfigFile(file, (path) => ts.sys.readFile(path));
	return ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
})();

let previous: ts.Program | undefined;

/** Type errors of `code` compiled as the end of `file`, with README line numbers. */
function typeErrors(code: string, file: string, readmeLine: number): string[] {
	const target = join(ROOT, file);
	const original = readFileSync(target, "utf8");
	const text = `${original}\n${code}\n`;
	const offset = original.split("\n").length; // the example's first line is this 0-based line
	const host = ts.createCompilerHost(CONFIG.options);
	const getSourceFile = host.getSourceFile.bind(host);
	host.getSourceFile = (name, version, onError, create) =>
		resolve(name) === target ? ts.createSourceFile(name, text, version) : getSourceFile(name, version, onError, create);
	const readFile = host.readFile.bind(host);
	host.readFile = (name) => (resolve(name) === target ? text : readFile(name));
	// The unchanged files of the previous program are reused: only the example's file is checked again.
	const program = ts.createProgram({ rootNames: [target], options: CONFIG.options, host, oldProgram: previous });
	previous = program;
	const source = program.getSourceFile(target);
	if (!source) throw new Error(`${file} is not in the program`);
	return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
		const line = d.file?.getLineAndCharacterOfPosition(d.start ?? 0).line ?? 0;
		const where = line >= offset ? `README.md:${readmeLine + line - offset}` : `${file}:${line + 1}`;
		return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
	});
}

describe("README.md's Layout", () => {
	const paths = layoutPaths();

	it("names only paths that exist", () => {
		expect(paths.length).toBeGreaterThan(20);
		expect(paths.filter((p) => !exists(p))).toEqual([]);
	});

	it("names every source folder", () => {
		const folders = readdirSync(join(ROOT, "src"), { withFileTypes: true })
			.filter((d) => d.isDirectory())
			.map((d) => `src/${d.name}/`);
		expect(folders.length).toBeGreaterThan(5);
		expect(folders.filter((f) => !paths.includes(f))).toEqual([]);
	});

	it("states the core's rule", () => {
		expect(README).toContain(
			"`src/guard/` is the core: it decides a call (check, then run) and imports only `src/guard/`, zod and standard modules.",
		);
	});
});

describe("README.md's other paths", () => {
	it("exist", () => {
		const paths = inlinePaths();
		expect(paths).toContain("src/tools/definitions.ts");
		expect(paths.filter((p) => !exists(p))).toEqual([]);
	});
});

describe("README.md's TypeScript examples", () => {
	const examples = tsExamples(LINES);

	it("each say which file they belong to", () => {
		expect(examples.length).toBeGreaterThan(0);
		expect(examples.filter((e) => !e.appendedTo || !existsSync(join(ROOT, e.appendedTo))).map((e) => `README.md:${e.line}`)).toEqual([]);
	});

	it.each(examples.map((e) => [`README.md:${e.line}`, e] as const))(
		"%s compiles against the project's types",
		{ timeout: 60_000 },
		(_where, example) => {
			expect(typeErrors(example.code, example.appendedTo ?? "", example.line)).toEqual([]);
		},
	);

	it("would catch an example that does not compile", { timeout: 60_000 }, () => {
		const [example] = examples;
		const broken = `${example.code}\nconst wrong: number = rotateKeys;`;
		expect(typeErrors(broken, example.appendedTo ?? "", example.line).join("\n")).toMatch(
			/^README\.md:\d+: Type '.*' is not assignable to type 'number'/,
		);
	});
});
