/**
 * The one shape of a step that may fail, and the exhaustiveness check for
 * switches over a union. Every "may fail" answer in the core (and the
 * adapters that implement its interfaces) is a Result: `ok` is the only
 * thing to test, `value` or `error` the only thing to read.
 */

export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
	return { ok: true, value };
}

export function err<E>(error: E): { ok: false; error: E } {
	return { ok: false, error };
}

/** For the `default` of a switch that handles every member of a union: it does not compile if one is missing. */
export function assertNever(value: never): never {
	throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
