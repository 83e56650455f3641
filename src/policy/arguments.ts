/**
 * A call's arguments as Cedar sees them: the `Arguments` record type is
 * generated from the tools' input schemas (JSON Schema, as MCP lists them), the
 * approach of cedar-for-agents' schema generator, folded into the one
 * `call_tool` action of our model: every argument any tool takes is an optional
 * attribute. An argument whose type differs between tools, or that Cedar cannot
 * represent (a fractional number, null, a mixed list), is left out of the type;
 * a value that does not fit its attribute's type is left out of the context.
 * Nothing is guessed, so a validated policy never meets a value of a wrong type.
 */
import { assertNever } from "../guard/result";

/** The Cedar JSON-schema types this module produces. */
export type CedarType =
	| { type: "String" }
	| { type: "Long" }
	| { type: "Boolean" }
	| { type: "Set"; element: CedarType }
	| { type: "Record"; attributes: Record<string, CedarAttribute> };
export type CedarAttribute = CedarType & { required?: boolean };

/** The part of JSON Schema a tool's inputSchema uses. */
export interface JsonSchema {
	type?: string | string[];
	enum?: unknown[];
	const?: unknown;
	items?: JsonSchema;
	properties?: Record<string, JsonSchema>;
	anyOf?: JsonSchema[];
	oneOf?: JsonSchema[];
}

const MAX_DEPTH = 4;

function cedarTypeOf(schema: JsonSchema | undefined, depth = 0): CedarType | undefined {
	if (!schema || typeof schema !== "object" || depth > MAX_DEPTH) return undefined;
	const alternatives = schema.anyOf ?? schema.oneOf;
	if (alternatives) {
		const types = alternatives.map((s) => cedarTypeOf(s, depth));
		return types.length > 0 && types.every((t) => t && sameType(t, types[0]!)) ? types[0] : undefined;
	}
	if (schema.enum) return schema.enum.length > 0 && schema.enum.every((v) => typeof v === "string") ? { type: "String" } : undefined;
	if (schema.const !== undefined) return typeof schema.const === "string" ? { type: "String" } : undefined;
	switch (schema.type) {
		case "string":
			return { type: "String" };
		case "integer":
			return { type: "Long" };
		case "boolean":
			return { type: "Boolean" };
		case "array": {
			const element = cedarTypeOf(schema.items, depth + 1);
			return element ? { type: "Set", element } : undefined;
		}
		case "object":
			return schema.properties ? { type: "Record", attributes: recordAttributes([schema], depth + 1) } : undefined;
		default:
			return undefined;
	}
}

function sameType(a: CedarType, b: CedarType): boolean {
	return JSON.stringify(a) === JSON.stringify(b);
}

/** The union of the schemas' properties, each optional; conflicting or unrepresentable ones left out. */
function recordAttributes(schemas: readonly JsonSchema[], depth: number): Record<string, CedarAttribute> {
	const found = new Map<string, CedarType | null>();
	for (const schema of schemas) {
		for (const [name, property] of Object.entries(schema.properties ?? {})) {
			// "__entity" and "__extn" mean entity and extension values in Cedar's JSON: never an argument name.
			if (name.startsWith("__")) continue;
			const type = cedarTypeOf(property, depth);
			if (!type) continue;
			const seen = found.get(name);
			if (seen === undefined) found.set(name, type);
			else if (seen !== null && !sameType(seen, type)) found.set(name, null);
		}
	}
	const attributes: Record<string, CedarAttribute> = {};
	for (const [name, type] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
		if (type) attributes[name] = { ...type, required: false };
	}
	return attributes;
}

/** The `Arguments` record type for tools with these input schemas. */
export function argumentsType(inputSchemas: readonly JsonSchema[]): CedarType & { type: "Record" } {
	return { type: "Record", attributes: recordAttributes(inputSchemas, 0) };
}

/** A value as Cedar JSON of the given type, or undefined when it does not fit (left out, never coerced). */
export function toCedarValue(value: unknown, type: CedarType): unknown {
	switch (type.type) {
		case "String":
			return typeof value === "string" ? value : undefined;
		case "Long":
			return Number.isSafeInteger(value) ? value : undefined;
		case "Boolean":
			return typeof value === "boolean" ? value : undefined;
		case "Set": {
			if (!Array.isArray(value)) return undefined;
			const elements = value.map((v) => toCedarValue(v, type.element));
			return elements.every((e) => e !== undefined) ? elements : undefined;
		}
		case "Record": {
			if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
			const record: Record<string, unknown> = {};
			for (const [name, attribute] of Object.entries(type.attributes)) {
				if (!Object.hasOwn(value, name)) continue;
				const converted = toCedarValue((value as Record<string, unknown>)[name], attribute);
				if (converted !== undefined) record[name] = converted;
			}
			return record;
		}
		default:
			return assertNever(type);
	}
}

/**
 * The argument names a policy reads (`context.arguments.NAME`, `context.arguments has NAME`), from its JSON
 * form; "all" when it uses `context.arguments` in any other way. Arguments no policy reads are not passed to
 * Cedar at all: less to convert per call, and equal calls become equal requests (see the decision cache).
 */
export function argumentsReadBy(policyJson: unknown): Set<string> | "all" {
	return attributesReadOf(policyJson, (e) => {
		const dot = (e as { "."?: { left?: unknown; attr?: unknown } } | null)?.["."];
		return dot?.attr === "arguments" && (dot.left as { Var?: unknown } | undefined)?.Var === "context";
	});
}

/**
 * The attributes read of whatever `isSubject` matches in a policy set's JSON form (`SUBJECT.NAME`,
 * `SUBJECT has NAME`); "all" when the subject is used in any other way.
 */
function attributesReadOf(policyJson: unknown, isSubject: (expression: unknown) => boolean): Set<string> | "all" {
	const names = new Set<string>();
	let all = false;
	const visit = (node: unknown): void => {
		if (all || node === null || typeof node !== "object") return;
		if (Array.isArray(node)) return node.forEach(visit);
		const record = node as Record<string, unknown>;
		if (isSubject(record)) {
			all = true; // the subject used whole
			return;
		}
		for (const op of [".", "has"] as const) {
			const inner = record[op] as { left?: unknown; attr?: unknown } | undefined;
			if (inner && isSubject(inner.left)) {
				const attr = Array.isArray(inner.attr) ? inner.attr[0] : inner.attr;
				if (typeof attr === "string") names.add(attr);
				else all = true;
				return;
			}
		}
		Object.values(record).forEach(visit);
	};
	visit(policyJson);
	return all ? "all" : names;
}

/** The type restricted to the named attributes. */
export function onlyAttributes(type: CedarType & { type: "Record" }, names: Set<string> | "all"): CedarType & { type: "Record" } {
	if (names === "all") return type;
	return { type: "Record", attributes: Object.fromEntries(Object.entries(type.attributes).filter(([name]) => names.has(name))) };
}

/**
 * The context attributes a policy reads (`context.NAME`, `context has NAME`); "all" when it uses `context`
 * whole. Unread ones (say, the hour, or the retry count) are left out of the request, so they cannot make
 * equal decisions look different to the decision cache.
 */
export function contextReadBy(policyJson: unknown): Set<string> | "all" {
	return attributesReadOf(policyJson, (e) => (e as { Var?: unknown } | null)?.Var === "context");
}

/**
 * The attributes a policy reads of the principal and of the resource (`principal.NAME`, `resource has NAME`).
 * Unread ones are not passed to Cedar (each attribute adds to a call's cost in cedar-wasm). An attribute read
 * any other way (of an entity literal, `User::"a".role`, or of an entity inside a record or a conditional)
 * makes it "all" for both. Using `principal` or `resource` whole (`==`, `in`, `is`) reads no attribute.
 */
export function entityAttributesReadBy(policyJson: unknown): { principal: Set<string> | "all"; resource: Set<string> | "all" } {
	const read = { principal: new Set<string>(), resource: new Set<string>() };
	let all = false;
	const visit = (node: unknown): void => {
		if (all || node === null || typeof node !== "object") return;
		if (Array.isArray(node)) return node.forEach(visit);
		const record = node as Record<string, unknown>;
		for (const op of [".", "has"] as const) {
			const inner = record[op] as { left?: unknown; attr?: unknown } | undefined;
			if (!inner || typeof inner !== "object") continue;
			const left = inner.left as Record<string, unknown> | undefined;
			const variable = left?.Var;
			const attr = Array.isArray(inner.attr) ? inner.attr[0] : inner.attr;
			if (variable === "principal" || variable === "resource") {
				if (typeof attr === "string") read[variable].add(attr);
				else all = true;
			} else if (variable === "context" || variable === "action") {
				// The context holds no entities; the action has no attributes here.
			} else if (left && typeof left === "object" && ("." in left || "has" in left)) {
				visit(left); // a chain: its root decides (principal's and context's attributes hold no entities)
			} else all = true;
			return;
		}
		Object.values(record).forEach(visit);
	};
	visit(policyJson);
	return all ? { principal: "all", resource: "all" } : read;
}
