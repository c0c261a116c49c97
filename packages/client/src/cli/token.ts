import type { Command } from "commander";
import { Contract, Wallet } from "ethers";
import { waitForReceipt } from "../chain/tx.js";
import { ChainError, DevOnlyError } from "../errors.js";
import {
  createOutput,
  devNetwork,
  formatToken,
  globalFlags,
  parseAddress,
  parseTokenAmount,
  resolveChain,
  resolveWallet,
} from "./common.js";

/** Hardhat's chain id: the faucet refuses to run anywhere else. */
const DEV_CHAIN_ID = 31337;

/** `rendermesh token faucet`: MESH for testing, on the local dev network only. */
export function registerTokenCommands(program: Command): void {
  const token = program.command("token").description("the MESH token");

  token
    .command("faucet")
    .description("send MESH from the dev network's deployer account (local dev network only)")
    .option("--to <address>", "recipient (default: the wallet's address)")
    .option("--amount <mesh>", "MESH to send, in whole tokens", "1000")
    .action(async (opts: { to?: string; amount: string }, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const amount = parseTokenAmount("--amount", opts.amount);
      const to = opts.to ? parseAddress("--to", opts.to) : undefined;
      if (!devNetwork()) {
        throw new DevOnlyError("The faucet works only on the local dev network, and no .rendermesh/dev.json was found.", {
          hint: "Start it with `pnpm dev`.",
        });
      }
      const ctx = await resolveChain(flags);
      try {
        if (!ctx.dev) throw new DevOnlyError("The faucet works only on the local dev network.", { hint: "Start it with `pnpm dev`." });
        if (ctx.chainId !== DEV_CHAIN_ID || ctx.dev.chainId !== ctx.chainId) {
          throw new DevOnlyError(`The faucet works only on the local dev network (chain ${DEV_CHAIN_ID}); this is chain ${ctx.chainId}.`, {
            hint: "Buy or borrow MESH on a real network.",
          });
        }
        const recipient = to ?? (await resolveWallet(ctx)).address;
        const funder = new Wallet(ctx.dev.accounts.deployer.privateKey, ctx.provider);
        const mesh = new Contract(
          ctx.deployment.token,
          ["function transfer(address,uint256) returns (bool)", "function balanceOf(address) view returns (uint256)"],
          funder,
        );
        let receipt;
        try {
          const tx = (await mesh.getFunction("transfer")(recipient, amount)) as { hash: string };
          receipt = await waitForReceipt(ctx.provider, tx.hash, 60_000);
        } catch (cause) {
          throw new ChainError(`The faucet transfer of ${formatToken(amount)} failed.`, {
            cause,
            hint: "Restart `pnpm dev` if the dev network was reset.",
          });
        }
        const balance = (await mesh.getFunction("balanceOf")(recipient)) as bigint;
        out.result({ to: recipient, amount, txHash: receipt?.hash, balance }, (r) => {
          out.line(`Sent ${formatToken(r.amount)} to ${r.to} (tx ${r.txHash}).`);
          out.line(`Balance: ${formatToken(r.balance)}`);
        });
      } finally {
        ctx.provider.destroy();
      }
    });
}
