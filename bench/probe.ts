import { unstable_startWorker } from "wrangler";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const persist = mkdtempSync(join(tmpdir(), "bench-"));
const t0 = performance.now();
const w = await unstable_startWorker({
  config: new URL("./wrangler.bench.toml", import.meta.url).pathname,
  dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, persist, logLevel: "warn" },
} as any);
try {
  await w.ready;
  const url = await w.url;
  console.log("ready", url.href, performance.now() - t0);
  const c = new Client({ name: "probe", version: "0" });
  await c.connect(new StreamableHTTPClientTransport(new URL("/mcp", url)));
  const tools = await c.listTools();
  console.log(tools.tools.map((t) => t.name));
  for (const name of ["ping", "research-topic", "research-topic-unguarded"]) {
    const xs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const s = performance.now();
      if (name === "ping") await c.ping(); else await c.callTool({ name, arguments: { topic: "edge computing" } });
      xs.push(performance.now() - s);
    }
    xs.sort((a, b) => a - b);
    console.log(name, xs[150].toFixed(3), xs[285].toFixed(3));
  }
  const r = await c.callTool({ name: "research-topic", arguments: { topic: "edge computing" } });
  console.log(JSON.stringify(r).slice(0, 300));
  await c.close();
} finally {
  await w.dispose();
  rmSync(persist, { recursive: true, force: true });
}
