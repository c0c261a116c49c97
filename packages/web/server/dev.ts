import { readFileSync } from "node:fs";
import type { DevNetwork } from "@rendermesh/shared";
import { parseDeployment } from "@rendermesh/shared/chain";
import { startWebNode, type WebAccount, type WebNode, type WebNodeOptions } from "./node.js";

/** The dev network's accounts as the page's wallet menu lists them; the node holds their (public test) keys. */
export function devAccounts(dev: DevNetwork): WebAccount[] {
  const a = dev.accounts;
  return [
    { ...a.client, label: "client", role: "client" },
    ...a.providers.map((p, i) => ({ ...p, label: `provider ${i + 1}`, role: "provider" as const })),
    ...a.dao.map((m, i) => ({ ...m, label: `DAO member ${i + 1}`, role: "dao" as const })),
  ];
}

/** The web node for a running dev network (what `pnpm dev` and the browser tests start). */
export function startDevWebNode(
  dev: DevNetwork,
  opts: Pick<WebNodeOptions, "dataDir" | "port" | "host" | "staticDir" | "logger" | "client">,
): Promise<WebNode> {
  const deployment = parseDeployment(JSON.parse(readFileSync(dev.deploymentFile, "utf8")), dev.deploymentFile);
  return startWebNode({
    ...opts,
    rpcUrl: dev.rpcUrl,
    chainId: dev.chainId,
    deployment,
    coordinator: dev.coordinator.multiaddrs,
    coordinatorHttpUrl: dev.coordinator.httpUrl,
    accounts: devAccounts(dev),
    dev: true,
  });
}
