/** The server's name and version as MCP clients and `GET /` see them: package.json's, the one source of both. */
import packageJson from "../package.json";

export const SERVER_INFO = { name: packageJson.name, version: packageJson.version } as const;
