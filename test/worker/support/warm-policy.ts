// Loads the Worker and its policy engine (cedar-wasm's 4 MB module) before a file's tests start, so that
// cost is not charged to the first test's timeout: every workerd test file gets its own module registry.
import { env } from "cloudflare:workers";
import { readConfig, type VariableEnv } from "../../../src/config";
import "../../../src/index";
import { localPolicyFor } from "../../../src/policy/workerd";

localPolicyFor(readConfig(env as VariableEnv).policyText);
