// A smart-contract wallet on a test chain (as a Safe or an ERC-4337 account is to the escrow): the mock
// contracts/test/mocks/ContractWallet.sol, which sends calls for its owner and accepts, by ERC-1271, signatures its
// owner's key made. Tests use it to be a client that signs without a key of its own.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Contract } from "ethers";
import { ContractFactory, type Signer } from "ethers";
import { connectContracts, type Deployment } from "@rendermesh/shared/chain";
import { specHash, type JobSpec } from "@rendermesh/shared";
import { repoRoot } from "./hardhat-node.js";

const ARTIFACT = join(repoRoot, "artifacts", "contracts", "test", "mocks", "ContractWallet.sol", "ContractWallet.json");

export interface ContractWallet {
  /** The wallet contract's address: the account that is the job's client. */
  address: `0x${string}`;
  contract: Contract;
  /**
   * Opens a job from the wallet (its owner sends `approve` and `openJob` through `execute`); the wallet must hold the
   * deposit. Returns the escrow's job id.
   */
  openJob(o: { spec: JobSpec; coordinator: string; pricePerSecond: bigint; deadline: number }): Promise<`0x${string}`>;
}

/** Deploys a ContractWallet owned by `owner` (run `pnpm build` or `pnpm typecheck` first: it reads the compiled artifact). */
export async function deployContractWallet(owner: Signer, deployment: Deployment): Promise<ContractWallet> {
  const { abi, bytecode } = JSON.parse(readFileSync(ARTIFACT, "utf8")) as { abi: unknown[]; bytecode: string };
  const contract = (await (
    await new ContractFactory(abi as never, bytecode, owner).deploy(await owner.getAddress())
  ).waitForDeployment()) as Contract;
  const address = (await contract.getAddress()) as `0x${string}`;
  const c = connectContracts(owner, deployment);
  const execute = async (target: string, data: string) => {
    const receipt = await (await (contract.getFunction("execute")(target, data) as Promise<{ wait(): Promise<unknown> }>)).wait();
    return receipt as { logs: Array<{ topics: string[]; data: string }> };
  };
  return {
    address,
    contract,
    async openJob(o) {
      const deposit = o.pricePerSecond * BigInt(o.spec.seconds);
      await execute(deployment.token, c.token.interface.encodeFunctionData("approve", [deployment.escrow, deposit]));
      const version = await c.policy.version();
      const receipt = await execute(
        deployment.escrow,
        c.escrow.interface.encodeFunctionData("openJob", [
          specHash(o.spec),
          o.coordinator,
          o.spec.seconds,
          o.pricePerSecond,
          o.deadline,
          version,
        ]),
      );
      for (const log of receipt.logs) {
        const parsed = (() => {
          try {
            return c.escrow.interface.parseLog(log);
          } catch {
            return null;
          }
        })();
        if (parsed?.name === "JobOpened") return parsed.args.jobId as `0x${string}`;
      }
      throw new Error("openJob through the wallet emitted no JobOpened event");
    },
  };
}
