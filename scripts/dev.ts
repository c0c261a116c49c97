// `pnpm dev`: the whole Rendermesh network on this machine — a Hardhat node,
// the contracts, funded accounts, one coordinator and three providers — until
// Ctrl-C. Writes .rendermesh/dev.json, which every CLI command reads.
// Each start is a fresh network: the Hardhat chain lives in memory, so state
// from an earlier run (jobs, balances, data dirs) is reset.
import { parseArgs } from "node:util";
import { startDevNetwork } from "./lib/devnet.ts";

const { values } = parseArgs({
  options: {
    providers: { type: "string", default: "3" },
    "rpc-port": { type: "string", default: "8545" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: pnpm dev [--providers N] [--rpc-port PORT]\n\nStarts a local Rendermesh network until Ctrl-C and writes .rendermesh/dev.json.");
  process.exit(0);
}
const providers = Number(values.providers);
const rpcPort = Number(values["rpc-port"]);
if (!Number.isInteger(providers) || providers < 1 || providers > 8 || !Number.isInteger(rpcPort) || rpcPort < 0 || rpcPort > 65535) {
  console.error("--providers takes 1 to 8 and --rpc-port a port number (0 picks a free one).");
  process.exit(2);
}

const net = await startDevNetwork({ providers, rpcPort: await portOrFree(rpcPort) });
const { dev } = net;
console.log(`
Rendermesh dev network is up (chain ${dev.chainId}).
  RPC            ${dev.rpcUrl}
  coordinator    ${dev.coordinator.multiaddrs[0]}
  status API     ${dev.coordinator.httpUrl}/api/status  /api/jobs  /api/providers  /api/policy  /metrics
  providers      ${dev.providers.map((p) => p.address).join("\n                 ")}
  client         ${dev.accounts.client.address} (1,000,000 MESH)
  DAO members    ${dev.accounts.dao.map((d) => d.address).join(", ")}
  logs           ${net.dir}/logs/
  dev file       ${net.file}

Try:  pnpm rendermesh job submit --prompt "a calm blue sea at dawn" --seconds 4
Ctrl-C stops everything (the next start is a fresh network).`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
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
