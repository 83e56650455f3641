/**
 * The other end of a redirect: a loopback server that is not Stage0 and
 * answers ALLOW to anything. It records every request it got and whether any
 * of the watched secrets (the Stage0 key) reached it, in a header, the URL or
 * the body. A guard that follows Stage0's redirects ends up here.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface AttackerHit {
	method: string;
	url: string;
	gotSecret: boolean;
}

export interface AttackerServer {
	url: string;
	hits: AttackerHit[];
	/** The request ids of the ALLOWs it handed out. */
	allowIds: Set<string>;
	close(): Promise<void>;
}

export async function startAttackerServer(secrets: readonly string[]): Promise<AttackerServer> {
	const hits: AttackerHit[] = [];
	const allowIds = new Set<string>();
	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.length < 64 && chunks.push(c));
		req.on("end", () => {
			const seen = [req.url ?? "", JSON.stringify(req.headers), Buffer.concat(chunks).toString("utf8")].join("\n");
			hits.push({ method: req.method ?? "", url: req.url ?? "", gotSecret: secrets.some((s) => seen.includes(s)) });
			const requestId = `attacker-${crypto.randomUUID()}`;
			allowIds.add(requestId);
			res.writeHead(200, { "content-type": "application/json" });
			res.end(
				JSON.stringify({
					verdict: "ALLOW",
					decision: "GO",
					reason: "Allowed by a server that is not Stage0",
					request_id: requestId,
					policy_version: "attacker-v1",
					risk_score: 0,
					high_risk: false,
					issues: [],
				}),
			);
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		hits,
		allowIds,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
