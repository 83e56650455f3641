/**
 * What the pipeline writes to the audit trail (AuditEntry, through the
 * AuditTrail interface), and the redaction applied to arguments and free text
 * before they are ever stored or sent.
 */
import type { Decision } from "./decision";
import type { Outcome } from "./enums";

export interface AuditEntry {
	at: number;
	request_id: string;
	policy_version: string;
	source: Decision["source"];
	principal: string;
	role: string;
	session_id: string;
	tool: string;
	args_sha256: string;
	/** Only with AUDIT_STORE_ARGUMENTS=true, and redacted even then. */
	arguments?: Record<string, unknown>;
	verdict: Decision["verdict"];
	decision: Decision["decision"];
	reason: string;
	risk_score: number | null;
	latency_ms: number;
	/** What happened to the action: `pending` in the write-ahead record, then its final outcome. */
	outcome: Outcome;
	approval_id?: string;
	/** The id of the local policy set in force (see LocalPolicy.id), whoever decided. */
	local_policy: string;
	/** Present in shadow mode only: the call ran regardless; would enforce mode have blocked it? */
	mode?: "shadow";
	would_block?: boolean;
}

export interface AuditTrail {
	/** Written before the action runs; a failure here stops the action. */
	record(entry: AuditEntry): Promise<number>;
	/** The action's outcome, once it is known. */
	complete(id: number, outcome: Extract<Outcome, "executed" | "failed">, error?: string): Promise<void>;
}

const SECRET_KEY = /pass(word|phrase)?|secret|token|api[-_]?key|authorization|credential|private[-_]?key|cookie/i;
const SECRET_VALUE = [
	/\bsk-[A-Za-z0-9_-]{16,}/, // API keys in the sk- style
	/\bsg_[A-Za-z0-9_-]{16,}/, // this server's bearer tokens
	/\bgh[pousr]_[A-Za-z0-9]{20,}/, // GitHub tokens
	/\bAKIA[0-9A-Z]{16}\b/, // AWS access key ids
	/\bxox[abprs]-[A-Za-z0-9-]{10,}/, // Slack tokens
	/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, // JWTs
	/-----BEGIN [A-Z ]*PRIVATE KEY-----/,
	/\bBearer\s+[A-Za-z0-9._~+/=-]{12,}/i,
];

/** The same patterns, to cut secrets out of free text, plus `password=...`-style assignments. */
const SECRET_IN_TEXT = SECRET_VALUE.map(
	(p) =>
		new RegExp(
			// A private key is cut out whole, up to its END line (or the end of the text).
			p.source.replace(
				"-----BEGIN [A-Z ]*PRIVATE KEY-----",
				"-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
			),
			`g${p.flags}`,
		),
);
const SECRET_ASSIGNMENT = new RegExp(`\\b((?:${SECRET_KEY.source})[\\w-]*\\s*[:=]\\s*)("[^"]*"|'[^']*'|[^\\s,;]+)`, "gi");

/** Free text with every secret-looking part replaced by `[redacted]`, the rest kept. */
export function redactSecretText(text: string): string {
	let out = text.replace(SECRET_ASSIGNMENT, "$1[redacted]");
	for (const pattern of SECRET_IN_TEXT) out = out.replace(pattern, "[redacted]");
	return out;
}

/** Replaces values that look like secrets, and values under secret-sounding keys. */
export function redactSecrets(value: unknown, key = ""): unknown {
	if (key && SECRET_KEY.test(key)) return "[redacted]";
	if (typeof value === "string") return SECRET_VALUE.some((p) => p.test(value)) ? "[redacted]" : value;
	if (Array.isArray(value)) return value.map((v) => redactSecrets(v));
	if (value && typeof value === "object") {
		return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactSecrets(v, k)]));
	}
	return value;
}
