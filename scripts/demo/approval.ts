/**
 * The demos' approval loop: a held call's approval is granted by a person on
 * the approvers' page (or, in an unattended run, through the approvals API as
 * the operator, said plainly), then the agent retries with `approvalId` and the
 * action runs, once.
 *
 *   DEMO_AUTO_APPROVE=1 (or --auto-approve)   approve through the API instead of waiting for a person
 *   APPROVER_TOKEN                            who approves in that case, when the demo did not start the
 *                                             server itself: the operator secret of npm run dev's approver
 *                                             link, or an admin's token
 */
import { banner, callingStage0, decisionBlock, print } from "./report";
import { DemoError, type DemoContext, type GuardResult } from "./lib";

const POLL_MS = 1000;

export function autoApprove(argv = process.argv, env = process.env): boolean {
	return argv.includes("--auto-approve") || ["1", "true", "yes"].includes((env.DEMO_AUTO_APPROVE ?? "").trim().toLowerCase());
}

async function approvalsApi(ctx: DemoContext, path: string, token: string | undefined, init: RequestInit = {}) {
	const response = await fetch(new URL(`/api/approvals/${path}`, ctx.mcpUrl), {
		...init,
		headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
	});
	const body = (await response.json().catch(() => null)) as {
		approval?: { status: string; decided_by: string | null; note: string | null };
		message?: string;
	} | null;
	if (!response.ok)
		throw new DemoError(
			`${init.method ?? "GET"} /api/approvals/${path} answered HTTP ${response.status}: ${body?.message ?? "no message"}`,
		);
	return body!.approval!;
}

/**
 * Shows where a person approves `held`, waits for the decision (or makes it, in
 * an unattended run), then retries the same call with approvalId. Returns
 * whether everything behaved as the guard promises.
 */
export async function approveThenRetry(ctx: DemoContext, held: GuardResult, tool: string, args: Record<string, unknown>): Promise<boolean> {
	const approval = held.approval;
	if (!approval) return true;
	banner("DEMO: Human approval - a person approves, the agent retries");
	const operatorLink = ctx.operatorSecret
		? `${new URL(ctx.mcpUrl).origin}/approvals#operator=${ctx.operatorSecret}&id=${approval.id}`
		: undefined;
	const unattended = autoApprove();

	if (approval.approver === "none" && !unattended) {
		print(
			"Nobody can approve it on this server: it has no MCP_AUTH_TOKENS and was not started with `npm run dev`, which prints an approver link. Start the server with `npm run dev` to try the approval loop.",
		);
		console.log("");
		return true;
	}
	if (operatorLink) {
		print(
			"The demo started this server, so here is its approver link (it signs you in as the operator, an admin; it stops working when the demo stops the server). Open it, check the request, and approve it:",
		);
		console.log(`  ${operatorLink}`);
	} else if (approval.approver === "operator") {
		print("Open the approver link that `npm run dev` printed, then this request, check it and approve it:");
		console.log(`  ${approval.url}`);
	} else {
		print("An admin other than you approves it on the approvers' page:");
		console.log(`  ${approval.url}`);
	}
	console.log("");

	// Who reads the request while waiting: the operator when known, else the requester itself (it may read its own).
	const reader = ctx.operatorSecret ?? process.env.MCP_TOKEN?.trim();
	if (unattended) {
		const approver = ctx.operatorSecret ?? process.env.APPROVER_TOKEN?.trim();
		if (!approver) {
			throw new DemoError(
				"DEMO_AUTO_APPROVE needs someone to approve as: set APPROVER_TOKEN to the secret of npm run dev's approver link (after #operator=) or to an admin's token.",
			);
		}
		const granted = await approvalsApi(ctx, `${approval.id}/approve`, approver, {
			method: "POST",
			body: JSON.stringify({ note: "approved by the demo's unattended run" }),
		});
		print(
			`Unattended run (DEMO_AUTO_APPROVE): the demo approved it through the approvals API as ${granted.decided_by}, as a person would on the page.`,
		);
	} else {
		print(`Waiting for a person to approve or reject it (until ${approval.expires_at}; Ctrl-C to stop)...`);
		for (;;) {
			const current = await approvalsApi(ctx, approval.id, reader);
			if (current.status !== "pending") break;
			await new Promise((r) => setTimeout(r, POLL_MS));
		}
	}

	const decided = await approvalsApi(ctx, approval.id, reader);
	print(
		`Decision: ${decided.status}${decided.decided_by ? ` by ${decided.decided_by}` : ""}${decided.note ? ` ("${decided.note}")` : ""}.`,
	);
	console.log("");
	if (decided.status === "rejected") {
		print("The person rejected it: the agent does not retry, and the action stays not run.");
		return true;
	}
	if (decided.status !== "approved") {
		console.log(`The request is ${decided.status}: nothing to retry.`);
		return false;
	}

	const retryArgs = { ...args, approvalId: approval.id };
	console.log(`MCP tool call: ${tool} ${JSON.stringify(retryArgs)}`);
	console.log("");
	callingStage0(ctx.health, "Calling Stage0 again, with the approval (Stage0 still has the last word)...");
	const r = await ctx.call(tool, retryArgs);
	decisionBlock(r);
	if (r.verdict === "ALLOW" && r.executed) {
		print(
			`✅ With the person's approval, the edge guard ran ${tool} (executed: true). The approval is used up: the same approvalId will not work again.`,
		);
		console.log("");
		return true;
	}
	print(`⚠️  UNEXPECTED: the approved retry was not run (${r.verdict}, ${r.decision}): ${r.reason}`);
	console.log("");
	return false;
}
