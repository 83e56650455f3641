/**
 * The start of both approver pages' scripts (the approvals page and its sign-in page, which hand approval links
 * to each other): strict mode, the approval ID pattern that `#<id>` links are checked against, `$` (an element by
 * id) and `status` (the page's #status line). Each page serves the joined text in its one nonce'd script
 * (html.ts's Content-Security-Policy allows it by nonce, not by hash).
 */
import { APPROVAL_ID } from "../guard/approvals";

/** A page's script: the shared start, then `body` (plain script, no template literals: it lives inside one). */
export function approverScript(body: string): string {
	return `
"use strict";
const ID_PATTERN = /${APPROVAL_ID.source}/;
const $ = (id) => document.getElementById(id);
const status = (text, isError) => { $("status").textContent = text; $("status").className = isError ? "error" : ""; };
${body}`;
}
