/** A check request as the guard sends it to Stage0, for tests of the Stage0 client in Node and in workerd. */
import type { CheckRequest } from "../../src/guard/decision";

/** Publishing the release notes: what a guarded publish asks Stage0. */
export const PUBLISH_CHECK: CheckRequest = {
	goal: "Publish the release notes",
	success_criteria: ["published"],
	constraints: [],
	tools: ["publish-content"],
	side_effects: ["publish"],
	context: {},
	pro: false,
};
