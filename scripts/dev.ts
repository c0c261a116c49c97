// `pnpm dev`: the whole Rendermesh network on this machine — a Hardhat node,
// the contracts, funded accounts, one coordinator, three providers and the arbiter — until
// Ctrl-C. Writes .rendermesh/dev.json, which every CLI command reads.
// Each start is a fresh network: the Hardhat chain lives in memory, so state
// from an earlier run (jobs, balances, data dirs) is reset.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDevWebNode } from "@rendermesh/web/server";
import { startDevNetwork } from "./lib/devnet.ts";

const { values } = parseArgs({
  options: {
    providers: { type: "string", default: "3" },
    "rpc-port": { type: "string", default: "8545" },
    "web-port": { type: "string", default: "5173" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: pnpm dev [--providers N] [--rpc-port PORT] [--web-port PORT]\n\nStarts a local Rendermesh network and the web app until Ctrl-C and writes .rendermesh/dev.json.");
  process.exit(0);
}
const providers = Number(values.providers);
const rpcPort = Number(values["rpc-port"]);
const webPort = Number(values["web-port"]);
const badPort = (p: number) => !Number.isInteger(p) || p < 0 || p > 65535;
if (!Number.isInteger(providers) || providers < 1 || providers > 8 || badPort(rpcPort) || badPort(webPort)) {
  console.error("--providers takes 1 to 8, --rpc-port and --web-port a port number (0 picks a free one).");
  process.exit(2);
}

const net = await startDevNetwork({ providers, rpcPort: await portOrFree(rpcPort) });
const { dev } = net;
// The web app and the local node it talks to (verification runs here, on this machine).
let web;
try {
  web = await startDevWebNode(dev, { dataDir: join(net.dir, "web"), port: await portOrFree(webPort) });
} catch (err) {
  await net.stop();
  throw err;
}
writeFileSync(net.file, JSON.stringify({ ...dev, web: { url: web.url } }, null, 2) + "\n");
console.log(`
Rendermesh dev network is up (chain ${dev.chainId}).
  web app        ${web.url}
  RPC            ${dev.rpcUrl}
  coordinator    ${dev.coordinator.multiaddrs[0]}
  status API     ${dev.coordinator.httpUrl}/api/status  /api/jobs  /api/providers  /api/policy  /metrics
  providers      ${dev.providers.map((p) => p.address).join("\n                 ")}
  arbiter        ${dev.arbiter ? `${dev.arbiter.address} (metrics ${dev.arbiter.metricsUrl ?? "off"})` : "none"}
  client         ${dev.accounts.client.address} (1,000,000 MESH)
  DAO members    ${dev.accounts.dao.map((d) => d.address).join(", ")}
  logs           ${net.dir}/logs/
  dev file       ${net.file}

Open ${web.url} in a browser, or try:  pnpm rendermesh job submit --prompt "a calm blue sea at dawn" --seconds 4
Ctrl-C stops everything (the next start is a fresh network).`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  await web.close();
  await net.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
for (const p of net.processes) {
  p.child.on("exit", (code, signal) => {
    if (!stopping) console.error(`${p.name} exited (${signal ?? `code ${code}`}); see ${p.logFile}`);
  });
}

async function portOrFree(port: number): Promise<number> {
  const { createServer } = await import("node:net");
  if (port === 0) return 0;
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => {
      console.error(`port ${port} is busy; using a free one instead`);
      resolve(0);
    });
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(port)));
  });
}
