import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Wallet } from "ethers";
import { jobAccessMessage, termHash, type JobSpec } from "@rendermesh/shared";
import { deployContractWallet, MESH, startTestChain, type ContractWallet, type TestChain } from "@rendermesh/testing";
import { EthersChain } from "../src/chain/ethers-chain.js";
import { isJobClientAuth, requireJobClient } from "../src/intake/job-auth.js";

// Job auth (protocol 2.0.0): a job's submit, watch, verdicts and cancel must carry its client's EIP-191 signature
// for the sending peer. A client that is a contract wallet (a Safe, an ERC-4337 account) signs through ERC-1271: its
// owner's key signs and the wallet's `isValidSignature` vouches. A real Hardhat chain with the real contracts, the
// ContractWallet mock deployed on it, and the coordinator's real EthersChain.

const MODEL = `0x${"ab".repeat(32)}` as `0x${string}`;
const spec: JobSpec = { v: 1, model: MODEL, prompt: "a wallet's job", seed: 1, seconds: 2, fps: 4, width: 64, height: 64 };
const PEER = "12D3KooWJ39HkVWTVfNUwiuX3Hov1a6X9VaaCnSu8ZTywERSz3UD";
const OTHER_PEER = "12D3KooWFJNh1Vg7PnyZSCohixqLa3KCVJM8EeSYuWhaMCKBD35y";

let chain: TestChain;
let view: EthersChain;
let wallet: ContractWallet;
let walletJob: `0x${string}`;

beforeAll(async () => {
  chain = await startTestChain({ allowedModels: [MODEL], blockedTerms: [termHash("nothing")] });
  view = new EthersChain({ rpcUrl: chain.rpcUrl, deployment: chain.deployment, signer: chain.coordinator });
  wallet = await deployContractWallet(chain.client, chain.deployment);
  await (await chain.contracts.token.transfer(wallet.address, 10n * MESH)).wait();
  walletJob = await wallet.openJob({
    spec,
    coordinator: chain.coordinator.address,
    pricePerSecond: MESH,
    deadline: (await chain.chainTime()) + 3600,
  });
});

afterAll(async () => {
  view?.provider.destroy();
  await chain?.stop();
});

const authBy = (signer: Pick<Wallet, "signMessage">, jobId: string, peer = PEER) =>
  signer.signMessage(jobAccessMessage(chain.chainId, chain.deployment.escrow, jobId, peer));

describe("job auth: ERC-1271 clients", () => {
  test("default: the wallet owner's signature for this peer is the wallet client's auth", async () => {
    const job = { jobId: walletJob, client: wallet.address };
    expect(await isJobClientAuth(view, job, PEER, await authBy(chain.client, walletJob))).toBe(true);
    await expect(requireJobClient(view, job, PEER, await authBy(chain.client, walletJob), "submission")).resolves.toBeUndefined();
  });

  test("error: another key, another peer or another job's auth is refused NOT_JOB_CLIENT", async () => {
    const job = { jobId: walletJob, client: wallet.address };
    expect(await isJobClientAuth(view, job, PEER, await authBy(Wallet.createRandom(), walletJob))).toBe(false);
    expect(await isJobClientAuth(view, job, PEER, await authBy(chain.client, walletJob, OTHER_PEER))).toBe(false);
    const { jobId: other } = await chain.openJob({ spec });
    expect(await isJobClientAuth(view, job, PEER, await authBy(chain.client, other))).toBe(false);
    expect(await isJobClientAuth(view, job, PEER, "0x1234")).toBe(false);
    await expect(requireJobClient(view, job, PEER, await authBy(Wallet.createRandom(), walletJob), "verdict")).rejects.toMatchObject({
      reason: "NOT_JOB_CLIENT",
    });
  });

  test("default: an EOA client's auth is recovered by ECDSA", async () => {
    const { jobId } = await chain.openJob({ spec });
    const eoaJob = { jobId, client: chain.client.address };
    expect(await isJobClientAuth(view, eoaJob, PEER, await authBy(chain.client, jobId))).toBe(true);
    expect(await isJobClientAuth(view, eoaJob, PEER, await authBy(Wallet.createRandom(), jobId))).toBe(false);
  });
});
