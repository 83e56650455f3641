/** vitest.config.ts: every test file runs, in exactly one project (test/worker/hermetic-env.test.ts in every Worker project, by design). */
import { globSync } from "node:fs";
import { matchesGlob } from "node:path";
import { describe, expect, it } from "vitest";
import config from "../vitest.config";

interface ProjectTest {
	name: string;
	include: string[];
	exclude?: string[];
}

function projects(): ProjectTest[] {
	return (config.test?.projects ?? []).map((p) => {
		const test = (p as { test?: Partial<ProjectTest> }).test;
		if (!test?.name || !test.include) throw new Error("every project names itself and its files");
		return { name: test.name, include: test.include, exclude: test.exclude };
	});
}

function projectsRunning(file: string): string[] {
	return projects()
		.filter((p) => p.include.some((g) => matchesGlob(file, g)) && !(p.exclude ?? []).some((g) => matchesGlob(file, g)))
		.map((p) => p.name);
}

describe("the test projects", () => {
	const files = globSync("test/**/*.test.ts").sort();
	const workerProjects = projects()
		.map((p) => p.name)
		.filter((n) => n.startsWith("worker-"));

	it("find the test files", () => {
		expect(files).toContain("test/vitest-config.test.ts");
		expect(files.length).toBeGreaterThan(40);
	});

	it("run every test file in exactly one project, named after its folder's environment", () => {
		const misplaced = files
			.filter((f) => f !== "test/worker/hermetic-env.test.ts")
			.map((f) => ({ file: f, projects: projectsRunning(f) }))
			.filter(({ projects }) => projects.length !== 1);
		expect(misplaced).toEqual([]);
	});

	it("run the hermetic-environment check in every Worker project", () => {
		expect(workerProjects.length).toBeGreaterThan(3);
		expect(projectsRunning("test/worker/hermetic-env.test.ts").sort()).toEqual([...workerProjects].sort());
	});

	it("put each Worker-runtime file in the project of its environment folder", () => {
		const wrong = files
			.filter((f) => f.startsWith("test/worker/") && f !== "test/worker/hermetic-env.test.ts")
			.filter((f) => projectsRunning(f)[0] !== `worker-${f.split("/")[2]}`);
		expect(wrong).toEqual([]);
	});
});
