/**
 * The local policy as a Cedar policy set: loads (parses, validates against the
 * schema, pre-parses once) and answers the guard core's LocalPolicy questions.
 *
 * Independent of how cedar-wasm was loaded: workerd passes the `web` build
 * (src/policy/workerd.ts), Node the `nodejs` build (src/policy/node.ts).
 * Fails closed: a set that does not parse or validate becomes a LocalPolicy
 * whose every decision is an error naming the first problem (line, column);
 * an evaluation error in any policy does the same for that call.
 */
import { createHash } from "node:crypto";
import type * as CedarWasm from "@cedar-policy/cedar-wasm/web";
import type { DeterminingPolicy, LocalPolicy, PolicyCall, PolicyCaller, PolicyAnswer, PolicyTool } from "../guard/local-policy";
import {
	argumentsReadBy,
	argumentsType,
	contextReadBy,
	type CedarType,
	entityAttributesReadBy,
	type JsonSchema,
	onlyAttributes,
	toCedarValue,
} from "./arguments";

/** The part of cedar-wasm the engine uses (the web and nodejs builds have the same API). */
export type Cedar = Pick<
	typeof CedarWasm,
	| "checkParsePolicySet"
	| "policySetTextToParts"
	| "policyToJson"
	| "schemaToJson"
	| "validate"
	| "preparsePolicySet"
	| "statefulIsAuthorized"
	| "isAuthorizedPartial"
>;

export interface PolicySetSource {
	/** The Cedar policy text. */
	text: string;
	source: LocalPolicy["source"];
	/** The schema stub (policies/schema.cedarschema); its `Arguments` type is generated from the tools. */
	schemaText: string;
	/** The input schemas (JSON Schema) of every tool the policy may be asked about. */
	argumentSchemas: readonly JsonSchema[];
}

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const CALL_TOOL = { type: "Action", id: "call_tool" };
const LIST_TOOLS = { type: "Action", id: "list_tools" };
const LIST_CACHE_LIMIT = 1000;
/** Decisions remembered per isolate: Cedar is deterministic, so an equal request gets the equal answer. */
const DECISION_CACHE_LIMIT = 2000;

/** The id of a policy text: a short SHA-256, stable across isolates and deployments. */
export function policySetId(text: string): string {
	return `cedar-${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
}

/** "line L, column C" of a byte offset (Cedar reports UTF-8 byte offsets). */
export function lineAndColumn(text: string, byteOffset: number): { line: number; column: number } {
	const before = new TextDecoder().decode(new TextEncoder().encode(text).slice(0, Math.max(0, byteOffset)));
	const lines = before.split("\n");
	return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

interface CedarError {
	message: string;
	help?: string | null;
	sourceLocations?: { start: number; end: number; label?: string | null }[];
}

/** The first error (by position), in words a person can act on: where, what, and Cedar's hint. */
function describeError(what: string, text: string, errors: readonly CedarError[]): string {
	const located = errors.map((e) => ({ e, at: e.sourceLocations?.[0]?.start ?? Number.MAX_SAFE_INTEGER }));
	located.sort((a, b) => a.at - b.at);
	const { e, at } = located[0] ?? { e: { message: "unknown error" }, at: Number.MAX_SAFE_INTEGER };
	const label = e.sourceLocations?.[0]?.label;
	const where = at === Number.MAX_SAFE_INTEGER ? "" : (({ line, column }) => ` at line ${line}, column ${column}`)(lineAndColumn(text, at));
	const detail = [e.message, label, e.help].filter(Boolean).join("; ");
	return `${what}${where}: ${detail}`;
}

class Failure extends Error {}

interface CedarEntity {
	uid: { type: string; id: string };
	attrs: Record<string, unknown>;
	parents: never[];
}

/** A tool's side effects as the policy sees them: trimmed, lower case, each once. */
function normalizedSideEffects(sideEffects: readonly string[]): string[] {
	const out: string[] = [];
	for (const s of sideEffects) {
		const effect = s.trim().toLowerCase();
		if (effect && !out.includes(effect)) out.push(effect);
	}
	return out;
}

/** The principal and the resource of a request, as Cedar entities. */
function entitiesOf(
	caller: PolicyCaller,
	tool: PolicyTool,
	sideEffects = normalizedSideEffects(tool.sideEffects),
): [CedarEntity, CedarEntity] {
	const hints = tool.annotations ?? {};
	return [
		{
			uid: { type: "User", id: caller.principal },
			attrs: { role: caller.role, ...(caller.groups && caller.groups.length > 0 ? { groups: [...caller.groups] } : {}) },
			parents: [],
		},
		{
			uid: { type: "Tool", id: tool.name },
			attrs: {
				server: tool.server,
				// An absent hint is unknown: the unsafe value (MCP's own defaults).
				readOnly: hints.readOnlyHint === true,
				destructive: hints.destructiveHint !== false,
				idempotent: hints.idempotentHint === true,
				openWorld: hints.openWorldHint !== false,
				sideEffects,
			},
			parents: [],
		},
	];
}

/**
 * Everything a call's Cedar request consists of, flat, with `null` for what is absent or what no policy reads
 * (`approved` aside: it is false here, and the second evaluation sets it). The decision cache's key is this
 * record, and the request is built from it alone: nothing Cedar sees can be missing from the key.
 */
interface RequestFacts {
	principal: string;
	role: string | null;
	groups: readonly string[] | null;
	tool: string;
	server: string | null;
	readOnly: boolean | null;
	destructive: boolean | null;
	idempotent: boolean | null;
	openWorld: boolean | null;
	sideEffects: string[] | null;
	arguments: unknown;
	environment: string | null;
	retryCount: number | null;
	hour: number | null;
	weekday: string | null;
}

const reads = (read: Set<string> | "all", name: string) => read === "all" || read.has(name);

function factsOf(call: PolicyCall, loaded: Loaded): RequestFacts {
	const { caller, tool } = call;
	const hints = tool.annotations ?? {};
	const { contextRead: context, principalRead: user, resourceRead: res } = loaded;
	const date = reads(context, "hour") || reads(context, "weekday") ? new Date(call.at) : undefined;
	return {
		principal: caller.principal,
		role: reads(user, "role") ? caller.role : null,
		groups: reads(user, "groups") && caller.groups && caller.groups.length > 0 ? caller.groups : null,
		tool: tool.name,
		server: reads(res, "server") ? tool.server : null,
		// An absent hint is unknown: the unsafe value (MCP's own defaults).
		readOnly: reads(res, "readOnly") ? hints.readOnlyHint === true : null,
		destructive: reads(res, "destructive") ? hints.destructiveHint !== false : null,
		idempotent: reads(res, "idempotent") ? hints.idempotentHint === true : null,
		openWorld: reads(res, "openWorld") ? hints.openWorldHint !== false : null,
		sideEffects: reads(res, "sideEffects") ? normalizedSideEffects(tool.sideEffects) : null,
		arguments: reads(context, "arguments") ? (toCedarValue(call.arguments, loaded.argumentsType) ?? {}) : null,
		environment: reads(context, "environment") && call.environment !== undefined ? call.environment : null,
		retryCount:
			reads(context, "retryCount") && call.retryCount !== undefined && Number.isSafeInteger(call.retryCount) ? call.retryCount : null,
		hour: date && reads(context, "hour") ? date.getUTCHours() : null,
		weekday: date && reads(context, "weekday") ? WEEKDAYS[date.getUTCDay()]! : null,
	};
}

/** The attributes that are not null (what no policy reads is left out, like the context's). */
function present(attributes: Record<string, unknown>): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const name in attributes) if (attributes[name] !== null) out[name] = attributes[name];
	return out;
}

function entitiesOfFacts(f: RequestFacts): [CedarEntity, CedarEntity] {
	return [
		{ uid: { type: "User", id: f.principal }, attrs: present({ role: f.role, groups: f.groups && [...f.groups] }), parents: [] },
		{
			uid: { type: "Tool", id: f.tool },
			attrs: present({
				server: f.server,
				readOnly: f.readOnly,
				destructive: f.destructive,
				idempotent: f.idempotent,
				openWorld: f.openWorld,
				sideEffects: f.sideEffects,
			}),
			parents: [],
		},
	];
}

function contextOfFacts(f: RequestFacts, approved: boolean): Record<string, unknown> {
	return present({
		approved,
		arguments: f.arguments,
		environment: f.environment,
		retryCount: f.retryCount,
		hour: f.hour,
		weekday: f.weekday,
	});
}

/** A cached outcome is shared by every hit: frozen, so no caller can change what the next one reads. */
function deepFreeze<T>(value: T): T {
	if (value && typeof value === "object" && !Object.isFrozen(value)) {
		Object.freeze(value);
		for (const inner of Object.values(value)) deepFreeze(inner);
	}
	return value;
}

/** Loads a policy set. Never throws: a set that cannot be used comes back with `error` set. */
export function loadPolicySet(cedar: Cedar, input: PolicySetSource): CedarLocalPolicy {
	const id = policySetId(input.text);
	try {
		return new CedarLocalPolicy(cedar, id, input);
	} catch (error) {
		const reason =
			error instanceof Failure
				? error.message
				: `the policy set could not be loaded: ${error instanceof Error ? error.message : String(error)}`;
		return CedarLocalPolicy.broken(cedar, id, input, reason);
	}
}

interface Loaded {
	/** Cedar's policy id (the @id annotation, or policyN) → the reason a person reads. */
	reasons: Map<string, string>;
	/** The policies by id, as the engine evaluates them. */
	policies: Record<string, string>;
	/** Only the arguments some policy reads. */
	argumentsType: CedarType & { type: "Record" };
	/** The context attributes some policy reads ("all" when one uses the context whole). */
	contextRead: Set<string> | "all";
	hasPermit: boolean;
	/** The attributes some policy reads of the principal and of the resource ("all" when that cannot be told). */
	principalRead: Set<string> | "all";
	resourceRead: Set<string> | "all";
	/** The policies that read `context.approved` (only they can answer an approved call differently). */
	readsApproved: Set<string>;
	/** Whether any permit reads `context.approved`. */
	permitReadsApproved: boolean;
}

export class CedarLocalPolicy implements LocalPolicy {
	readonly error?: string;
	readonly warning?: string;
	readonly #loaded?: Loaded;
	readonly #listed = new Map<string, boolean>();
	readonly #decided = new Map<string, PolicyAnswer>();

	constructor(
		private readonly cedar: Cedar,
		readonly id: string,
		input: PolicySetSource,
		brokenReason?: string,
	) {
		this.source = input.source;
		if (brokenReason !== undefined) {
			this.error = brokenReason;
			return;
		}
		this.#loaded = this.#load(input);
		if (!this.#loaded.hasPermit) this.warning = "the policy set has no permit, so it permits nothing: every guarded call is refused";
	}

	readonly source: LocalPolicy["source"];

	static broken(cedar: Cedar, id: string, input: PolicySetSource, reason: string): CedarLocalPolicy {
		return new CedarLocalPolicy(cedar, id, input, reason);
	}

	/** The names (for a report): id → reason, in the text's order. */
	get policies(): DeterminingPolicy[] {
		return [...(this.#loaded?.reasons ?? [])].map(([id, reason]) => ({ id, reason }));
	}

	#load(input: PolicySetSource): Loaded {
		const { cedar, id } = this;
		const { text } = input;

		const schema = cedar.schemaToJson(input.schemaText);
		if (schema.type === "failure") throw new Failure(describeError("the policy schema does not parse", input.schemaText, schema.errors));
		const namespace = schema.json[""];
		if (!namespace?.commonTypes?.Arguments) throw new Failure("the policy schema must declare `type Arguments` in the empty namespace");
		const args = argumentsType(input.argumentSchemas);
		namespace.commonTypes.Arguments = args as never;

		const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
		if (parsed.type === "failure") throw new Failure(describeError("the policy set does not parse", text, parsed.errors));
		const parts = cedar.policySetTextToParts(text);
		if (parts.type === "failure") throw new Failure(describeError("the policy set does not parse", text, parts.errors));
		if (parts.policy_templates.length > 0)
			throw new Failure("the policy set contains templates, which the guard does not link: write static policies");

		// Each policy under its @id, so results and the audit trail use the team's names.
		const reasons = new Map<string, string>();
		const policies: Record<string, string> = {};
		const cedarIds: string[] = [];
		let hasPermit = false;
		const read = new Set<string>();
		let readAll = false;
		const contextRead = new Set<string>();
		let contextReadAll = false;
		const principalRead = new Set<string>();
		const resourceRead = new Set<string>();
		let entityReadAll = false;
		const readsApproved = new Set<string>();
		let permitReadsApproved = false;
		// Cedar returns the parts in no particular order; its own names (policy0, …: validate() below) and every
		// list a person reads follow the text, so the parts are put back in the text's order (each is verbatim).
		let cursor = 0;
		const inTextOrder = parts.policies
			.map((policyText) => ({ policyText, at: text.indexOf(policyText) }))
			.sort((a, b) => (a.at < 0 ? Number.MAX_SAFE_INTEGER : a.at) - (b.at < 0 ? Number.MAX_SAFE_INTEGER : b.at));
		inTextOrder.forEach(({ policyText }, index) => {
			const start = text.indexOf(policyText, cursor);
			if (start >= 0) cursor = start + policyText.length;
			const where =
				start >= 0
					? (({ line, column }) => ` (line ${line}, column ${column})`)(
							lineAndColumn(text, new TextEncoder().encode(text.slice(0, start)).length),
						)
					: "";
			const json = cedar.policyToJson(policyText);
			if (json.type === "failure") throw new Failure(describeError(`policy ${index + 1}${where} does not parse`, policyText, json.errors));
			const annotated = json.json.annotations?.id;
			const policyId = annotated ?? `policy${index}`;
			if (policyId in policies) throw new Failure(`two policies have the id '${policyId}'${where}: each @id must be unique`);
			policies[policyId] = policyText;
			reasons.set(policyId, json.json.annotations?.reason ?? "");
			cedarIds.push(policyId);
			if (json.json.effect === "permit") hasPermit = true;
			const names = argumentsReadBy(json.json);
			if (names === "all") readAll = true;
			else for (const name of names) read.add(name);
			const attributes = contextReadBy(json.json);
			if (attributes === "all") contextReadAll = true;
			else for (const name of attributes) contextRead.add(name);
			const entity = entityAttributesReadBy(json.json);
			if (entity.principal === "all" || entity.resource === "all") entityReadAll = true;
			else {
				for (const name of entity.principal) principalRead.add(name);
				for (const name of entity.resource) resourceRead.add(name);
			}
			if (attributes === "all" || attributes.has("approved")) {
				readsApproved.add(policyId);
				if (json.json.effect === "permit") permitReadsApproved = true;
			}
		});

		const validated = cedar.validate({
			schema: schema.json,
			policies: { staticPolicies: text },
			validationSettings: { mode: "strict" },
		});
		if (validated.type === "failure") throw new Failure(describeError("the policy set does not validate", text, validated.errors));
		// A policy that can never apply is an error too: the validator types `context.arguments has x` as false
		// when no tool takes `x`, so a misspelt (or not yet listed) argument would silently switch a forbid off.
		const impossible = validated.validationWarnings.filter((w) => w.error.message.includes("policy is impossible"));
		for (const [problems, what] of [
			[validated.validationErrors, "does not validate against the schema"],
			[impossible, "can never apply (it reads something no request has: an argument no tool takes?)"],
		] as const) {
			if (problems.length === 0) continue;
			// validate() names policies policy0, policy1, … in the text's order.
			const first = problems
				.map((v) => ({ v, at: v.error.sourceLocations?.[0]?.start ?? Number.MAX_SAFE_INTEGER }))
				.sort((a, b) => a.at - b.at)[0]!.v;
			const index = Number(/^policy(\d+)$/.exec(first.policyId)?.[1]);
			const name = cedarIds[index] ?? first.policyId;
			throw new Failure(describeError(`policy '${name}' ${what}`, text, [first.error]));
		}

		const preparsed = cedar.preparsePolicySet(id, { staticPolicies: policies });
		if (preparsed.type === "failure") throw new Failure(describeError("the policy set could not be prepared", text, preparsed.errors));
		return {
			reasons,
			policies,
			argumentsType: onlyAttributes(args, readAll ? "all" : read),
			contextRead: contextReadAll ? "all" : contextRead,
			hasPermit,
			principalRead: entityReadAll ? "all" : principalRead,
			resourceRead: entityReadAll ? "all" : resourceRead,
			readsApproved,
			permitReadsApproved,
		};
	}

	decide(call: PolicyCall): PolicyAnswer {
		if (!this.#loaded) return { kind: "error", reason: this.error ?? "the policy set is not loaded" };
		const loaded = this.#loaded;
		try {
			const facts = factsOf(call, loaded);
			// The key is every fact Cedar is shown (and the request is built from these facts only), so a hit is
			// the answer Cedar would give. A flat record: stringifying it is most of what a hit costs.
			const key = JSON.stringify(facts);
			const known = this.#decided.get(key);
			if (known) return known;
			const outcome = deepFreeze(this.#decide(loaded, facts, call));
			if (this.#decided.size >= DECISION_CACHE_LIMIT) this.#decided.delete(this.#decided.keys().next().value!);
			this.#decided.set(key, outcome);
			return outcome;
		} catch (error) {
			return {
				kind: "error",
				reason: `the policy could not be evaluated: ${error instanceof Error ? error.message : String(error)}`,
			};
		}
	}

	#decide(loaded: Loaded, facts: RequestFacts, call: PolicyCall): PolicyAnswer {
		const entities = entitiesOfFacts(facts);
		const asIs = this.#authorize(entities, call, contextOfFacts(facts, false));
		if (asIs.kind === "error" || asIs.allowed) return asIs.kind === "error" ? asIs : { kind: "permitted" };
		// In the text's order (the reasons map keeps it), whatever order Cedar reports them in.
		const determining = new Set(asIs.determining);
		const policies = [...loaded.reasons].filter(([id]) => determining.has(id)).map(([id, reason]) => ({ id, reason }));
		const forbidden = (): PolicyAnswer => {
			const reason = !loaded.hasPermit
				? "the policy set has no permit, so it permits nothing"
				: policies.length === 0
					? "no policy permits this call"
					: "forbidden";
			return { kind: "forbidden", policies, reason };
		};
		// Refused: would an approval for this exact call permit it? Only a policy that reads `context.approved`
		// can answer differently: a forbid that fired without reading it fires again, and a permit that does not
		// read it stays silent. Skipping the second evaluation can only refuse (never permit) more.
		if (asIs.determining.length > 0 ? asIs.determining.some((id) => !loaded.readsApproved.has(id)) : !loaded.permitReadsApproved)
			return forbidden();
		const approved = this.#authorize(entities, call, contextOfFacts(facts, true));
		if (approved.kind === "error") return approved;
		return approved.allowed ? { kind: "needs-approval", policies } : forbidden();
	}

	#authorize(
		entities: [CedarEntity, CedarEntity],
		call: PolicyCall,
		context: Record<string, unknown>,
	): { kind: "error"; reason: string } | { kind: "answer"; allowed: boolean; determining: string[] } {
		const answer = this.cedar.statefulIsAuthorized({
			principal: entities[0]!.uid,
			action: CALL_TOOL,
			resource: entities[1]!.uid,
			context: context as never,
			preparsedPolicySetId: this.id,
			entities: entities as never,
		});
		if (answer.type === "failure") {
			return { kind: "error", reason: `the policy could not be evaluated: ${answer.errors.map((e) => e.message).join("; ")}` };
		}
		const { decision, diagnostics } = answer.response;
		// Cedar skips a policy that fails to evaluate; a forbid skipped that way would open the door. Refuse instead.
		if (diagnostics.errors.length > 0) {
			const first = diagnostics.errors[0]!;
			return { kind: "error", reason: `policy '${first.policyId}' failed on the call ${call.tool.name}: ${first.error.message}` };
		}
		return { kind: "answer", allowed: decision === "allow", determining: diagnostics.reason };
	}

	lists(caller: PolicyCaller, tool: PolicyTool): boolean {
		// A broken set refuses every call with its reason; the tools stay listed so the caller can read it.
		if (!this.#loaded) return true;
		const key = JSON.stringify([
			caller.principal,
			caller.role,
			caller.groups ?? [],
			tool.name,
			tool.server,
			tool.annotations ?? {},
			tool.sideEffects,
		]);
		let listed = this.#listed.get(key);
		if (listed === undefined) {
			listed = this.#lists(caller, tool, this.#loaded);
			if (this.#listed.size >= LIST_CACHE_LIMIT) this.#listed.clear();
			this.#listed.set(key, listed);
		}
		return listed;
	}

	#lists(caller: PolicyCaller, tool: PolicyTool, loaded: Loaded): boolean {
		try {
			const entities = entitiesOf(caller, tool);
			// Could it ever be called? Every fact of the call unknown: only a definite deny hides it.
			const unknown = (name: string) => ({ __extn: { fn: "unknown", arg: name } });
			const partial = this.cedar.isAuthorizedPartial({
				principal: entities[0]!.uid,
				action: CALL_TOOL,
				resource: entities[1]!.uid,
				context: {
					arguments: unknown("arguments"),
					approved: unknown("approved"),
					environment: unknown("environment"),
					retryCount: unknown("retryCount"),
					hour: unknown("hour"),
					weekday: unknown("weekday"),
				} as never,
				policies: { staticPolicies: loaded.policies },
				entities: entities as never,
			});
			if (partial.type === "failure" || partial.response.decision === "deny") return false;
			// A forbid on list_tools hides it too (list_tools needs no permit: it only hides).
			const listing = this.cedar.statefulIsAuthorized({
				principal: entities[0]!.uid,
				action: LIST_TOOLS,
				resource: entities[1]!.uid,
				context: {},
				preparsedPolicySetId: this.id,
				entities: entities as never,
			});
			if (listing.type === "failure" || listing.response.diagnostics.errors.length > 0) return false;
			return listing.response.decision === "allow" || listing.response.diagnostics.reason.length === 0;
		} catch {
			return false;
		}
	}
}
