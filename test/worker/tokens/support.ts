import { exports } from "cloudflare:workers";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { ApiAnswer } from "../../support/results";
import { TOKENS } from "../../support/test-tokens";
import { connect } from "../support/mcp";

export type Who = keyof typeof TOKENS;

export function as(who: Who): Promise<Client> {
	return connect("streamable", TOKENS[who].token);
}

/** The approvals API, as a person with a token would use it. */
export async function api(who: Who, method: "GET" | "POST", path: string, body?: unknown) {
	const init: RequestInit = { method, headers: { authorization: `Bearer ${TOKENS[who].token}`, "content-type": "application/json" } };
	if (body !== undefined) init.body = JSON.stringify(body);
	const res = await exports.default.fetch(new Request(`http://localhost${path}`, init));
	return { status: res.status, body: await res.json<ApiAnswer>() };
}
