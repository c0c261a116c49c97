// `pnpm dev`: the whole Rendermesh network on this machine — a Hardhat node,
// the contracts, funded accounts, one coordinator, three providers and the arbiter — until
// Ctrl-C. Writes .rendermesh/dev.json, which every CLI command reads.
// Each start is a fresh network: the Hardhat chain lives in memory, so state
// from an earlier run (jobs, balances, data dirs) is reset.
// A coordinator or provider that dies is started again on its data dir (the
// chain cannot be: it lives in memory). `pnpm dev restart <name>` kills one of
// them (by the pid in dev.json) so that it restarts, as after a crash.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDevWebNode } from "@rendermesh/web/server";
import { repoRoot, startDevNetwork, type DevProcess } from "./lib/devnet.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    providers: { type: "string", default: "3" },
    "rpc-port": { type: "string", default: "8545" },
    "web-port": { type: "string", default: "5173" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(`usage: pnpm dev [--providers N] [--rpc-port PORT] [--web-port PORT]
       pnpm dev restart <coordinator|arbiter|provider-N>

Starts a local Rendermesh network and the web app until Ctrl-C and writes .rendermesh/dev.json.
A coordinator, provider or the arbiter that dies is restarted on its data dir; \`restart\`
kills one (SIGKILL, as a crash would) so that the running \`pnpm dev\` restarts it.`);
  process.exit(0);
}
if (positionals[0] === "restart") {
  process.exit(restartCommand(positionals[1]));
} else if (positionals.length > 0) {
  console.error(`Unknown command ${positionals[0]}; try \`pnpm dev --help\`.`);
  process.exit(2);
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
const restarts = new Map<string, number[]>();
const supervise = (p: DevProcess) => {
  p.child.on("exit", (code, signal) => {
    if (stopping) return;
    console.error(`${p.name} exited (${signal ?? `code ${code}`}); see ${p.logFile}`);
    if (p.name === "hardhat-node") {
      console.error("The chain lived in memory and is gone: stop with Ctrl-C and start `pnpm dev` again.");
      return;
    }
    // At most 5 restarts a minute, so a process that cannot start does not spin.
    const now = Date.now();
    const recent = (restarts.get(p.name) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= 5) {
      console.error(
        `${p.name} died 5 times within a minute; not restarting it. Run \`pnpm dev restart ${p.name}\` after fixing the cause.`,
      );
      return;
    }
    restarts.set(p.name, [...recent, now]);
    net
      .restart(p.name)
      .then((next) => {
        console.error(`${p.name} restarted (pid ${next.child.pid})`);
        supervise(next);
      })
      .catch((err: unknown) => console.error(`${p.name} did not restart: ${(err as Error).message}`));
  });
};
for (const p of net.processes) supervise(p);

/** `pnpm dev restart <name>`: SIGKILLs the named process of the running network; its supervisor starts it again. */
function restartCommand(name: string | undefined): number {
  let dev: { coordinator: { pid?: number }; providers: Array<{ pid?: number }>; arbiter?: { pid?: number } };
  try {
    dev = JSON.parse(readFileSync(join(repoRoot, ".rendermesh", "dev.json"), "utf8")) as typeof dev;
  } catch {
    console.error("No dev network is running here (.rendermesh/dev.json is missing); start one with `pnpm dev`.");
    return 1;
  }
  const m = /^provider-(\d+)$/.exec(name ?? "");
  const pid =
    name === "coordinator"
      ? dev.coordinator.pid
      : name === "arbiter"
        ? dev.arbiter?.pid
        : m
          ? dev.providers[Number(m[1]) - 1]?.pid
          : undefined;
  if (pid === undefined) {
    console.error(`usage: pnpm dev restart <coordinator|arbiter|provider-1..${dev.providers.length}>`);
    return 2;
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    console.error(`Cannot signal ${name} (pid ${pid}): ${(err as Error).message}`);
    return 1;
  }
  console.log(`${name} (pid ${pid}) killed; \`pnpm dev\` starts it again on its data dir.`);
  return 0;
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
