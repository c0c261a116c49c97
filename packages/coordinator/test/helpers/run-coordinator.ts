// Runs a coordinator from source in its own process (for the SIGKILL test).
// Settings come as one JSON argument; prints one JSON line when it is up.
import { Wallet } from "ethers";
import { parseDeployment } from "@rendermesh/shared/chain";
import { Coordinator } from "../../src/coordinator.js";
import { CoordinatorConfig } from "../../src/config.js";
import { EthersChain } from "../../src/chain/ethers-chain.js";

const args = JSON.parse(process.argv[2]!) as { rpcUrl: string; deployment: unknown; privateKey: string; config: Record<string, unknown> };
const config = CoordinatorConfig.parse(args.config);
const chain = new EthersChain({
  rpcUrl: args.rpcUrl,
  deployment: parseDeployment(args.deployment),
  signer: new Wallet(args.privateKey),
  pollingIntervalMs: 200,
});
const c = new Coordinator(config, { chain, supervisor: { tickMs: 100, graceMs: 4000, resumeGraceMs: 6000 } });
await c.start();
process.stdout.write(`${JSON.stringify({ peerId: c.peerId, multiaddrs: c.multiaddrs, http: c.httpUrl })}\n`);
