/**
 * What the soak's clients ask for: the guarded tools with unique, traceable
 * arguments, workflow ids in case, zero-width and fullwidth variants, and
 * hostile input (oversized, deeply nested, wrong types, unknown tools,
 * forged approvals, claimed roles, tools a role cannot see).
 */
import { pick } from "./chaos";

export type Role = "admin" | "developer" | "viewer";

export interface PlannedCall {
	tool: string;
	args: Record<string, unknown>;
	/** Which hostile input this is, if any; "protocol" ones must be refused before the pipeline. */
	hostile?: "oversized" | "nested" | "wrong-type" | "unknown-tool" | "hidden-tool" | "forged-approval" | "claimed-role" | "large";
	/** The server must refuse this before its pipeline (schema, unknown or hidden tool). */
	protocolRefusal?: boolean;
	/** The payload text Stage0 should be told about (publish and deploy). */
	payloadNonce?: string;
}

const WORKFLOWS = ["nightly-build", "sync-catalogue"];
/** The workflow the soak retries under every spelling, on purpose. */
export const LOOPED_WORKFLOW = WORKFLOWS[0];
/** A secret an agent pasted into an argument: the audit trail and the approvals must never show it. */
export const PASTED_SECRET = "sk-pasted-by-agent-0a1b2c3d4e5f6789";
/** Under the 256 KiB argument limit: reaches Stage0 and the approvals. */
export const LARGE_ARGUMENT_BYTES = 250 * 1024;
const LARGE_BYTES = LARGE_ARGUMENT_BYTES; // under the 256 KiB argument limit: reaches Stage0 and the approvals
const OVERSIZED_BYTES = 300 * 1024; // over it: refused by the schema
const MAX_LARGE_PER_RUN = 16;
let largeSoFar = 0;

const fullwidth = (s: string) =>
	Array.from(s)
		.map((c) => (c >= "!" && c <= "~" ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c))
		.join("");

/** Spellings of one workflow id that issue 8 says must share one loop budget. */
export function workflowVariants(base: string): string[] {
	return [base, base.toUpperCase(), `${base}\u200b`, fullwidth(base), `\u200d${base[0].toUpperCase()}${base.slice(1)}`];
}

/** NFKC, case fold, no zero-width or control characters: one key per workflow, as issue 8 item 7 asks. */
export function normaliseWorkflowId(id: string): string {
	return id
		.normalize("NFKC")
		.toLowerCase()
		.replace(/[\u200b-\u200f\u2060\ufeff\p{Cc}]/gu, "");
}

function nested(depth: number): unknown {
	let value: unknown = "bottom";
	for (let i = 0; i < depth; i++) value = { inner: value };
	return value;
}

export function planCall(random: () => number, role: Role, nonce: string): PlannedCall {
	// Mostly one workflow, so its spellings compete for one budget.
	const workflow = () =>
		pick(random, [
			[4, WORKFLOWS[0]],
			[1, WORKFLOWS[1]],
		] as const);
	const variant = () =>
		pick(
			random,
			workflowVariants(workflow()).map((v) => [1, v] as const),
		);
	const content = `${nonce} release notes for the soak`;
	const plans: [number, () => PlannedCall][] = [
		[14, () => ({ tool: "research-topic", args: { topic: `${nonce} zero trust for agents` } })],
		[14, () => ({ tool: "publish-content", args: { content, channel: "blog" }, payloadNonce: nonce })],
		[3, () => ({ tool: "publish-content", args: { content, channel: `blog ${PASTED_SECRET}` }, payloadNonce: nonce })],
		[
			12,
			() => ({
				tool: "deploy-changes",
				args: { serviceName: "catalogue", environment: random() < 0.2 ? "production" : "staging", changes: `${nonce} bump the cache size` },
				payloadNonce: nonce,
			}),
		],
		[26, () => ({ tool: "retry-workflow", args: { workflowId: variant() } })],
		[8, () => ({ tool: "check-authorization", args: { goal: `${nonce} Publish the quarterly report`, sideEffects: ["publish"] } })],
		// Hostile input.
		[
			3,
			() => ({
				tool: "publish-content",
				args: { content: `${nonce} ${"x".repeat(OVERSIZED_BYTES)}`, channel: "blog" },
				hostile: "oversized",
				protocolRefusal: true,
			}),
		],
		[3, () => ({ tool: "publish-content", args: { content: nested(64), channel: "blog" }, hostile: "nested", protocolRefusal: true })],
		[
			3,
			() => ({ tool: "retry-workflow", args: { workflowId: workflow(), retryCount: "3" }, hostile: "wrong-type", protocolRefusal: true }),
		],
		[3, () => ({ tool: "delete-everything", args: { target: nonce }, hostile: "unknown-tool", protocolRefusal: true })],
		[
			3,
			() => ({
				tool: "publish-content",
				args: { content, channel: "blog", approvalId: crypto.randomUUID() },
				hostile: "forged-approval",
				payloadNonce: nonce,
			}),
		],
		[
			4,
			() => ({
				tool: "deploy-changes",
				args: { serviceName: "catalogue", environment: "staging", changes: `${nonce} claimed`, actorRole: "admin" },
				hostile: "claimed-role",
				payloadNonce: nonce,
			}),
		],
	];
	if (largeSoFar < MAX_LARGE_PER_RUN) {
		plans.push([
			8,
			() => (
				largeSoFar++,
				{
					tool: "publish-content",
					args: { content: `${content} ${"y".repeat(LARGE_BYTES)}`, channel: "blog" },
					hostile: "large",
					payloadNonce: nonce,
				}
			),
		]);
	}
	const plan = pick(random, plans)();
	if (role === "viewer" && ["publish-content", "deploy-changes", "retry-workflow"].includes(plan.tool)) {
		// A viewer is not shown these tools: calling one anyway is refused before the pipeline.
		return random() < 0.3 ? { ...plan, hostile: "hidden-tool", protocolRefusal: true } : planCall(random, role, nonce);
	}
	return plan;
}

/** For a new run in the same process (the large-argument allowance is per run). */
export function resetWorkload(): void {
	largeSoFar = 0;
}

export function deeplyNestedJson(depth: number): string {
	return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
}
