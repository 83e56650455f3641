/**
 * The bench's upstream MCP server in a process of its own (so it does not
 * share the bench client's event loop): test/support/upstream-mcp.ts on
 * 127.0.0.1. Prints its URL as one JSON line; counters at GET /_stats.
 */
import { startUpstreamMcp } from "../test/support/upstream-mcp";

const upstream = await startUpstreamMcp();
console.log(JSON.stringify({ url: upstream.url }));
process.on("SIGTERM", () => void upstream.close().finally(() => process.exit(0)));
