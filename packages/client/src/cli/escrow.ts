import type { Command } from "commander";
import { UsageError } from "@rendermesh/shared";
import { depositFunds, withdrawFunds } from "../actions/depositAccount.js";
import { createOutput, formatToken, globalFlags, parseTokenAmount, resolveChain, resolveWallet } from "./common.js";

/**
 * `rendermesh deposit <amount>` and `rendermesh withdraw`: the client's escrow deposit account. `job submit` opens a
 * job from the account when it covers the job's deposit (see its --help), and what such a job leaves unspent goes
 * back into the account.
 */
export function registerEscrowCommands(program: Command): void {
  program
    .command("deposit")
    .description("move MESH from the wallet into its escrow deposit account; jobs it covers are opened from it (cheaper)")
    .argument("<amount>", "MESH to deposit, in whole tokens (e.g. 100 or 2.5)")
    .action(async (amountText: string, _opts: unknown, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const amount = parseTokenAmount("AMOUNT", amountText);
      if (amount === 0n) throw new UsageError("AMOUNT must be more than 0 MESH.");
      const ctx = await resolveChain(flags);
      try {
        const wallet = await resolveWallet(ctx);
        const r = await depositFunds({ wallet, deployment: ctx.deployment }, { amount });
        out.result({ ok: true, account: wallet.address, chainId: ctx.chainId, ...r }, (x) => {
          if (x.approveTxHash) out.line(`Approved the escrow (tx ${x.approveTxHash}).`);
          out.line(`Deposited ${formatToken(x.amount)} (tx ${x.txHash}).`);
          out.line(`Escrow account: ${formatToken(x.balance)}; \`rendermesh job submit\` opens jobs it covers from it.`);
        });
      } finally {
        ctx.provider.destroy();
      }
    });

  program
    .command("withdraw")
    .description("send the wallet its whole escrow balance (unspent deposits and any earnings)")
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const ctx = await resolveChain(flags);
      try {
        const wallet = await resolveWallet(ctx);
        const r = await withdrawFunds({ wallet, deployment: ctx.deployment });
        out.result({ ok: true, account: wallet.address, chainId: ctx.chainId, withdrawn: r.amount, txHash: r.txHash }, (x) =>
          out.line(
            x.txHash ? `Withdrew ${formatToken(x.withdrawn)} (tx ${x.txHash}).` : "The escrow account is empty: nothing to withdraw.",
          ),
        );
      } finally {
        ctx.provider.destroy();
      }
    });
}
