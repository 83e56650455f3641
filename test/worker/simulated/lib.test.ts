/**
 * The package's entry (src/lib.ts, `import … from "stage0-edge-guard"`) has
 * no side effects on import, inside workerd where a user's Worker imports it:
 * it reads no binding and no process.env, logs nothing and changes no global.
 * Its sessionsOf keeps each credential's sessions apart (end to end, with the
 * example Worker: test/e2e/library.test.ts).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";

const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;

/** Records every read of a binding of the Worker until `restore` is called (the test runner's own bindings are its business). */
function watchBindings(bindings: Record<string, unknown>, reads: string[]): () => void {
	const originals = Object.keys(bindings)
		.filter((key) => !key.startsWith("__VITEST_POOL_WORKERS"))
		.map((key) => [key, Object.getOwnPropertyDescriptor(bindings, key)!] as const);
	for (const [key, descriptor] of originals) {
		const value: unknown = bindings[key]; // read before watching
		Object.defineProperty(bindings, key, {
			configurable: true,
			enumerable: descriptor.enumerable,
			get() {
				reads.push(key);
				return value;
			},
		});
	}
	return () => {
		for (const [key, descriptor] of originals) Object.defineProperty(bindings, key, descriptor);
	};
}

function globalsNow(): Map<PropertyKey, unknown> {
	return new Map(
		Reflect.ownKeys(globalThis).map((key) => {
			const d = Object.getOwnPropertyDescriptor(globalThis, key)!;
			// An accessor is compared by its getter's identity, never called.
			// oxlint-disable-next-line typescript/unbound-method
			return [key, "value" in d ? d.value : d.get];
		}),
	);
}

describe("import 'stage0-edge-guard'", () => {
	it("runs nothing: no binding or process.env read, no console output, no global added or replaced", async () => {
		vi.resetModules(); // the Worker already loaded these modules: evaluate the entry's graph afresh
		const reads: string[] = [];
		const restoreBindings = watchBindings(env as unknown as Record<string, unknown>, reads);
		const processEnv = process.env;
		process.env = new Proxy(processEnv, {
			get: (target, key) => (reads.push(`process.env.${String(key)}`), Reflect.get(target, key)),
			has: (target, key) => (reads.push(`process.env.${String(key)}`), Reflect.has(target, key)),
		});
		const spies = CONSOLE_METHODS.map((method) => vi.spyOn(console, method));
		const before = globalsNow();
		let lib: typeof import("../../../src/lib");
		try {
			lib = await import("../../../src/lib");
		} finally {
			restoreBindings();
			process.env = processEnv;
		}
		const after = globalsNow();
		const output = spies.flatMap((spy, i) => spy.mock.calls.map((args) => `console.${CONSOLE_METHODS[i]}: ${args.map(String).join(" ")}`));
		for (const spy of spies) spy.mockRestore();

		expect(typeof lib.guardTools).toBe("function");
		expect(typeof lib.ApprovalStore).toBe("function");
		// One assertion, so that a failure shows every effect at once.
		expect({
			reads,
			console: output,
			added: [...after.keys()].filter((key) => !before.has(key)).map(String),
			replaced: [...before.keys()].filter((key) => !Object.is(after.get(key), before.get(key))).map(String),
		}).toEqual({ reads: [], console: [], added: [], replaced: [] });
	});
});

describe("sessionsOf", () => {
	it("gives one session id a different session object per credential, and refuses a caller without a credential", async () => {
		const { sessionsOf } = await import("../../../src/lib");
		const name = "streamable-http:0123abcd";
		const alice = sessionsOf(env.MCP_OBJECT, { credential: "a".repeat(64) });
		const aliceAgain = sessionsOf(env.MCP_OBJECT, { credential: "a".repeat(64) });
		const bob = sessionsOf(env.MCP_OBJECT, { credential: "b".repeat(64) });
		expect(alice.idFromName(name).equals(aliceAgain.idFromName(name))).toBe(true);
		expect(alice.idFromName(name).equals(bob.idFromName(name))).toBe(false);
		expect(alice.idFromName(name).equals(env.MCP_OBJECT.idFromName(name))).toBe(false);
		expect(() => sessionsOf(env.MCP_OBJECT, { credential: "" })).toThrow(/has no credential/);
	});
});
