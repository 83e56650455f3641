export const SERVER_INFO = { name: "stage0-edge-guard", version: "0.1.0" } as const;
