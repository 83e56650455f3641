/**
 * The JSON values the Durable Objects store and hand back over RPC. Typed as JSON
 * rather than `unknown` because workers-types types an RPC result containing
 * `unknown` as `never` (it cannot prove it serializable), which hid every caller's
 * use of approval and audit records from the type checker.
 */
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
export interface JsonArray extends Array<JsonValue> {}
export interface JsonObject {
	[key: string]: JsonValue;
}
