/**
 * The six guarded tools, as data: arguments, what they intend (sent to the
 * authority), and the action that runs only after an ALLOW.
 *
 * The actions are simulated on purpose: this product guards tools, it does not
 * publish or deploy anything. They do no artificial waiting.
 */
import { z } from "zod";
import type { GuardedTool, ToolAnnotations } from "../guard/pipeline";
import { APPROVAL_STATUSES, ROLES, retryCount, shortName, text } from "./schema";

/** Built-in tools state every hint. */
export type Annotations = Required<ToolAnnotations>;

export interface ToolDefinition<
	Shape extends z.ZodRawShape = z.ZodRawShape,
	Output extends Record<string, unknown> = Record<string, unknown>,
> extends GuardedTool<z.infer<z.ZodObject<Shape>>, Output> {
	title: string;
	description: string;
	input: Shape;
	annotations: Annotations;
	/** One line for the text block of an executed call. */
	summarize?: (output: Output) => string;
}

/** Keeps each definition's argument and output types tied to its own schema and action. */
function defineTool<Shape extends z.ZodRawShape, Output extends Record<string, unknown>>(
	definition: ToolDefinition<Shape, Output>,
): ToolDefinition {
	return definition as unknown as ToolDefinition;
}

const researchTopic = defineTool({
	name: "research-topic",
	title: "Research a topic",
	description: "Research a topic and return a short informational summary. Read-only; still checked by Stage0.",
	kind: "action",
	sideEffects: [],
	input: { topic: text("The topic to research") },
	annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
	intent: ({ topic }) => ({
		goal: `Research the topic "${topic}" and return an informational summary`,
		success_criteria: ["A short informational summary of the topic is returned"],
		constraints: ["read_only"],
	}),
	run: ({ topic }) => ({
		topic,
		summary: `Informational summary of "${topic}": key concepts, current state and open questions (simulated research: no external source was contacted).`,
	}),
	summarize: (o) => o.summary,
});

const publishContent = defineTool({
	name: "publish-content",
	title: "Publish content",
	description: "Publish content to a channel. Publishing is visible to others, so Stage0 must allow it first.",
	kind: "action",
	sideEffects: ["publish"],
	input: {
		content: text("The content to publish"),
		channel: shortName("Where to publish, e.g. blog, twitter, newsletter"),
	},
	annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
	intent: ({ content, channel }) => ({
		goal: `Publish content to the public channel "${channel}"`,
		payload: content,
		success_criteria: ["The content is published to the intended channel", "The content was reviewed before publication"],
		constraints: ["approval required"],
		context: { target_resources: [channel] },
	}),
	run: ({ content, channel }) => ({
		published: true,
		channel,
		content,
		characters: content.length,
		published_at: new Date().toISOString(),
	}),
	summarize: (o) => `Published ${o.characters} characters to ${o.channel}.`,
});

const deployment = (serviceName: string, environment: string, changes: string) => ({
	deployment_id: crypto.randomUUID(),
	service: serviceName,
	environment,
	changes,
	status: "deployed",
	deployed_at: new Date().toISOString(),
});

const deployChanges = defineTool({
	name: "deploy-changes",
	title: "Deploy changes",
	description: "Deploy changes of a service to staging or production, after Stage0 allows it.",
	kind: "action",
	sideEffects: ["deploy"],
	input: {
		serviceName: shortName("The service to deploy"),
		environment: z.enum(["staging", "production"]).describe("Target environment"),
		changes: text("What changes are deployed"),
		actorRole: z.enum(ROLES).optional().describe("Ignored for authorization: your role comes from your credentials"),
	},
	annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
	claims: ({ actorRole }) => ({ role: actorRole }),
	intent: ({ serviceName, environment, changes }) => ({
		goal: `Deploy changes of service "${serviceName}" to ${environment}`,
		payload: changes,
		success_criteria: ["The deployment completes successfully", "The service stays healthy after the deployment"],
		constraints: ["allowed_environment:staging,production"],
		context: { environment },
	}),
	run: ({ serviceName, environment, changes }) => deployment(serviceName, environment, changes),
	summarize: (o) => `Deployed ${o.service} to ${o.environment} (deployment ${o.deployment_id}).`,
});

const managedDeploy = defineTool({
	name: "managed-deploy",
	title: "Managed deploy",
	description:
		"Deploy with the full authorization context (environment, resource scope; your role and any approval come from the server), after Stage0 allows it.",
	kind: "action",
	sideEffects: ["deploy"],
	input: {
		serviceName: shortName("The service to deploy"),
		environment: z.enum(["development", "staging", "production"]).describe("Target environment"),
		changes: text("What changes are deployed"),
		actorRole: z.enum(ROLES).describe("Ignored for authorization: your role comes from your credentials"),
		approvalStatus: z.enum(APPROVAL_STATUSES).describe("Ignored for authorization: only an approvalId granted by a person counts"),
		resourceScope: shortName("Scope of the resources affected, e.g. all, team-a, service-x").optional(),
	},
	annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
	claims: ({ actorRole, approvalStatus }) => ({ role: actorRole, approvalStatus }),
	intent: ({ serviceName, environment, changes, resourceScope }) => ({
		goal: `Deploy changes of service "${serviceName}" to ${environment} under managed authorization`,
		payload: changes,
		success_criteria: ["The deployment completes successfully", "The service stays healthy after the deployment"],
		constraints: ["approval required", "allowed_environment:development,staging,production"],
		context: { environment, resource_scope: resourceScope ?? "service" },
	}),
	run: ({ serviceName, environment, changes, resourceScope }) => ({
		...deployment(serviceName, environment, changes),
		resource_scope: resourceScope ?? "service",
	}),
	summarize: (o) => `Deployed ${o.service} to ${o.environment} (deployment ${o.deployment_id}).`,
});

const retryWorkflow = defineTool({
	name: "retry-workflow",
	title: "Retry a workflow",
	description:
		"Retry a failing workflow. The server counts attempts per session and workflow; past MAX_RETRIES the retry is deferred to a person.",
	kind: "action",
	sideEffects: ["loop"],
	input: {
		workflowId: shortName("The workflow to retry"),
		retryCount: retryCount.describe("Your own count of retries so far (advisory: it can raise the server's count, never lower it)"),
	},
	annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
	loop: { key: ({ workflowId }) => workflowId, claimedRetryCount: ({ retryCount }) => retryCount },
	intent: ({ workflowId }) => ({
		goal: `Retry the failing workflow "${workflowId}"`,
		success_criteria: ["The workflow completes successfully", "Retries stay within the retry limit"],
	}),
	run: ({ workflowId }, { attempt }) => ({ workflowId, attempt, status: "retried" }),
	summarize: (o) => `Workflow ${o.workflowId} retried (attempt ${o.attempt}).`,
});

const checkAuthorization = defineTool({
	name: "check-authorization",
	title: "Check authorization",
	description: "Ask Stage0 whether an action would be authorized, without running anything. A DENY is an answer here, not an error.",
	kind: "query",
	sideEffects: [],
	input: {
		goal: text("One clear sentence: what the action is for", 4096),
		sideEffects: z
			.array(shortName("A side effect, e.g. publish, deploy, loop"))
			.max(32, "must list at most 32 side effects")
			.describe("Side effects the action would have"),
		successCriteria: z.array(text("A success criterion", 4096)).max(32, "must list at most 32 criteria").optional(),
		retryCount,
	},
	annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
	intent: ({ goal, sideEffects, successCriteria, retryCount }) => ({
		goal,
		success_criteria: successCriteria ?? [],
		side_effects: sideEffects,
		context: retryCount !== undefined ? { retry_count: retryCount } : {},
	}),
});

export const TOOLS: readonly ToolDefinition[] = [
	researchTopic,
	publishContent,
	deployChanges,
	managedDeploy,
	retryWorkflow,
	checkAuthorization,
];
