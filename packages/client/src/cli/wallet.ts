import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { Wallet } from "ethers";
import { KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, UsageError, writeKeystore } from "@rendermesh/shared";
import { getBalances } from "../actions/getBalances.js";
import { createOutput, formatToken, globalFlags, keystorePath, parseAddress, resolveChain, resolveLocal, resolveWallet } from "./common.js";

/**
 * `rendermesh wallet create|import|address|balance`. Keys live in an
 * encrypted keystore (Web3 Secret Storage) or come from RENDERMESH_PRIVATE_KEY;
 * a key is never taken from the command line, where `ps` would show it.
 */
export function registerWalletCommands(program: Command): void {
  const wallet = program.command("wallet").description("create, import and inspect the client's wallet");

  wallet
    .command("create")
    .description(`create a new key in an encrypted keystore (password from ${KEYSTORE_PASSWORD_ENV})`)
    .option("--out <file>", "keystore file to write (default: the --keystore path, else <data-dir>/keystore.json)")
    .action(async (opts: { out?: string }, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const local = resolveLocal(flags);
      const path = resolve(opts.out ?? local.settings.keystore ?? keystorePath(local.dataDir));
      const password = requirePassword();
      const w = Wallet.createRandom();
      await writeKeystore(new Wallet(w.privateKey), path, password);
      out.result({ address: w.address, keystore: path }, (r) => {
        out.line(`Created wallet ${r.address}`);
        out.line(`Keystore: ${r.keystore} (encrypted; keep the password safe)`);
      });
    });

  wallet
    .command("import")
    .description(`encrypt an existing key into a keystore; the key is read from ${PRIVATE_KEY_ENV} or from stdin`)
    .option("--out <file>", "keystore file to write (default: the --keystore path, else <data-dir>/keystore.json)")
    .action(async (opts: { out?: string }, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const local = resolveLocal(flags);
      const path = resolve(opts.out ?? local.settings.keystore ?? keystorePath(local.dataDir));
      const password = requirePassword();
      const key = process.env[PRIVATE_KEY_ENV] ?? (process.stdin.isTTY ? undefined : (await readStdin()).trim());
      if (!key)
        throw new UsageError(`No key to import.`, {
          hint: `Set ${PRIVATE_KEY_ENV}, or pipe the key on stdin: \`cat key.txt | rendermesh wallet import\`.`,
        });
      const hex = key.startsWith("0x") ? key : `0x${key}`;
      if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
        throw new UsageError("The key to import is not 32 bytes of hex.", { hint: "Give 0x followed by 64 hex digits." });
      const w = new Wallet(hex);
      await writeKeystore(w, path, password);
      out.result({ address: w.address, keystore: path }, (r) => {
        out.line(`Imported wallet ${r.address}`);
        out.line(`Keystore: ${r.keystore}`);
      });
    });

  wallet
    .command("address")
    .description("print the address the CLI signs with")
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const local = resolveLocal(flags);
      const w = await resolveWallet(local);
      out.result({ address: w.address, source: walletSource(local) }, (r) => out.line(r.address));
    });

  wallet
    .command("balance")
    .description("ETH (gas), MESH and escrow balances of the wallet or of ADDRESS")
    .argument("[address]", "account to look at (default: the wallet's)")
    .action(async (address: string | undefined, _opts: unknown, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const given = address ? parseAddress("ADDRESS", address) : undefined;
      const ctx = await resolveChain(flags);
      try {
        const who = given ?? (await resolveWallet(ctx)).address;
        const b = await getBalances({ provider: ctx.provider, deployment: ctx.deployment }, { address: who });
        out.result({ chainId: ctx.chainId, ...b }, (r) => {
          out.line(`Account  ${r.address} (chain ${r.chainId})`);
          out.line(`ETH      ${formatToken(r.eth, "ETH")}`);
          out.line(`MESH     ${formatToken(r.mesh)}`);
          out.line(`Escrow   ${formatToken(r.escrow)} withdrawable`);
        });
      } finally {
        ctx.provider.destroy();
      }
    });
}

function walletSource(local: ReturnType<typeof resolveLocal>): string {
  if (process.env[PRIVATE_KEY_ENV]) return "env";
  if (local.settings.keystore || existsSync(keystorePath(local.dataDir))) return "keystore";
  return local.dev ? "dev-network" : "none";
}

function requirePassword(): string {
  const password = process.env[KEYSTORE_PASSWORD_ENV];
  if (!password)
    throw new UsageError(`The keystore password is not set.`, { hint: `Set ${KEYSTORE_PASSWORD_ENV} (at least 8 characters).` });
  if (password.length < 8)
    throw new UsageError(`The keystore password must be at least 8 characters.`, { hint: `Set a longer ${KEYSTORE_PASSWORD_ENV}.` });
  return password;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
