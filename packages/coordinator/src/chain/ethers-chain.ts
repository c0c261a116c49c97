import { Contract, JsonRpcProvider, getAddress, hexlify, type Signer } from "ethers";
import type { AssignmentFields, PolicySnapshot, SignedDelivery } from "@rendermesh/shared";
import {
  connectContracts,
  eip712Domain,
  readPolicy,
  signAllocation,
  signAssignment,
  toEscrowJob,
  toRegistryEntry,
  verifyDelivery,
  type Deployment,
  type EscrowJob,
  type RegistryEntry,
  type RendermeshContracts,
} from "@rendermesh/shared/chain";
import { ChainError } from "../errors.js";
import type { ChainCallOptions, ChainView } from "./types.js";

export interface ConnectChainInit {
  rpcUrl: string;
  deployment: Deployment;
  /** The coordinator's key: signs assignments. */
  signer: Signer & { address: string };
  /** JSON-RPC polling interval for log scans (default 1 s). */
  pollingIntervalMs?: number;
}

const ERC1271_ABI = ["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"];
const ERC1271_MAGIC = "0x1626ba7e";

const REGISTRY_EVENTS = [
  "ProviderRegistered",
  "ProviderUpdated",
  "PeerIdChanged",
  "StakeAdded",
  "UnstakeRequested",
  "StakeWithdrawn",
  "ProviderSlashed",
] as const;

async function wrap<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof ChainError) throw cause;
    throw new ChainError(`Reading ${what} from the chain failed.`, { cause, hint: "Check --rpc-url and that the node is synced." });
  }
}

/** The coordinator's chain view over an ethers JSON-RPC provider and the shared contract bindings. */
export class EthersChain implements ChainView {
  readonly chainId: number;
  readonly escrow: string;
  readonly coordinator: string;
  readonly provider: JsonRpcProvider;
  private readonly contracts: RendermeshContracts;
  private readonly domain;
  private readonly signer: Signer;
  private readonly startBlock: number;
  private readonly openedBlocks = new Map<string, number>();
  private readonly hasCode = new Map<string, boolean>();

  constructor(init: ConnectChainInit) {
    this.provider = new JsonRpcProvider(init.rpcUrl, init.deployment.chainId, {
      staticNetwork: true,
      polling: true,
      pollingInterval: init.pollingIntervalMs ?? 1000,
    });
    this.signer = init.signer.connect(this.provider);
    this.chainId = init.deployment.chainId;
    this.escrow = getAddress(init.deployment.escrow);
    this.coordinator = getAddress(init.signer.address);
    this.startBlock = init.deployment.startBlock;
    this.contracts = connectContracts(this.provider, init.deployment);
    this.domain = eip712Domain(this.chainId, this.escrow);
  }

  async isValidContractSignature(account: string, hash: string, signature: string, options: ChainCallOptions = {}): Promise<boolean> {
    return wrap(`ERC-1271 signature of ${account}`, options.signal, async () => {
      // Cached: a bad auth from a stranger must not cost an RPC call each time
      // (job clients are few; whether an account has code rarely changes).
      const key = account.toLowerCase();
      let hasCode = this.hasCode.get(key);
      if (hasCode === undefined) {
        hasCode = (await this.provider.getCode(account)) !== "0x";
        if (this.hasCode.size >= 4096) this.hasCode.delete(this.hasCode.keys().next().value!);
        this.hasCode.set(key, hasCode);
      }
      if (!hasCode) return false;
      const wallet = new Contract(account, ERC1271_ABI, this.provider);
      try {
        return String(await wallet.getFunction("isValidSignature")(hash, signature)).toLowerCase() === ERC1271_MAGIC;
      } catch {
        return false; // reverted: not a valid signature (or not an ERC-1271 wallet)
      }
    });
  }

  async getJob(jobId: string, options: ChainCallOptions = {}): Promise<EscrowJob> {
    return wrap(`job ${jobId}`, options.signal, async () => {
      return toEscrowJob(await this.contracts.escrow.getJob(jobId));
    });
  }

  async chainTime(options: ChainCallOptions = {}): Promise<number> {
    return wrap("the latest block", options.signal, async () => {
      const block = await this.provider.getBlock("latest");
      if (!block) throw new Error("the node returned no latest block");
      return block.timestamp;
    });
  }

  async jobOpenedBlock(jobId: string, options: ChainCallOptions = {}): Promise<number | undefined> {
    const id = jobId.toLowerCase();
    const cached = this.openedBlocks.get(id);
    if (cached !== undefined) return cached;
    return wrap(`the JobOpened event of ${jobId}`, options.signal, async () => {
      const escrow = this.contracts.escrow as unknown as {
        filters: Record<string, (...a: unknown[]) => unknown>;
        queryFilter: (f: unknown, from: number) => Promise<Array<{ blockNumber: number }>>;
      };
      const logs = await escrow.queryFilter(escrow.filters.JobOpened!(id), this.startBlock);
      const block = logs[0]?.blockNumber;
      if (block !== undefined) this.openedBlocks.set(id, block);
      return block;
    });
  }

  readPolicy(blockTag?: number, options: ChainCallOptions = {}): Promise<PolicySnapshot> {
    return wrap("the content policy", options.signal, () => readPolicy(this.contracts.policy, blockTag));
  }

  providerOfPeer(peerIdBytes: Uint8Array, options: ChainCallOptions = {}): Promise<string> {
    return wrap("a peer's provider", options.signal, async () =>
      String(await this.contracts.registry.providerOfPeer(hexlify(peerIdBytes))).toLowerCase(),
    );
  }

  isActive(address: string, options: ChainCallOptions = {}): Promise<boolean> {
    return wrap(`whether ${address} is active`, options.signal, async () => Boolean(await this.contracts.registry.isActive(address)));
  }

  getProvider(address: string, options: ChainCallOptions = {}): Promise<RegistryEntry> {
    return wrap(`provider ${address}`, options.signal, async () => {
      return toRegistryEntry(await this.contracts.registry.getProvider(address));
    });
  }

  registeredProviders(options: ChainCallOptions = {}): Promise<string[]> {
    return wrap("the registered providers", options.signal, async () => {
      const registry = this.contracts.registry as unknown as {
        filters: Record<string, () => unknown>;
        queryFilter: (f: unknown, from: number) => Promise<Array<{ args: unknown[] }>>;
      };
      const logs = await registry.queryFilter(registry.filters.ProviderRegistered!(), this.startBlock);
      return [...new Set(logs.map((l) => String(l.args[0]).toLowerCase()))];
    });
  }

  watchRegistry(listener: (address: string) => void, intervalMs: number): () => void {
    let from: number | undefined;
    let stopped = false;
    let busy = false;
    const registry = this.contracts.registry as unknown as {
      filters: Record<string, () => unknown>;
      queryFilter: (f: unknown, from: number, to: number) => Promise<Array<{ args: unknown[] }>>;
    };
    const poll = async () => {
      if (busy || stopped) return;
      busy = true;
      try {
        const head = await this.provider.getBlockNumber();
        if (from === undefined) from = head + 1;
        if (head >= from) {
          for (const name of REGISTRY_EVENTS) {
            const filter = registry.filters[name];
            if (!filter) continue;
            for (const log of await registry.queryFilter(filter(), from, head)) listener(String(log.args[0]).toLowerCase());
          }
          from = head + 1;
        }
      } catch {
        // The RPC node is down or slow; the next poll retries from the same block.
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void poll(), intervalMs);
    timer.unref();
    void poll();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  escrowBalance(options: ChainCallOptions = {}): Promise<bigint> {
    return wrap("the escrow's balance", options.signal, async () => BigInt(await this.contracts.token.balanceOf(this.escrow)));
  }

  signAssignment(fields: AssignmentFields): Promise<`0x${string}`> {
    return signAssignment(this.signer, this.domain, fields);
  }

  signAllocation(jobId: string, provider: string, seconds: number): Promise<`0x${string}`> {
    return signAllocation(this.signer, this.domain, { jobId, provider, seconds });
  }

  recoverDelivery(d: SignedDelivery, likely?: string): string {
    return verifyDelivery(this.domain, d.delivery, d.signature, { likely }).toLowerCase();
  }

  async close(): Promise<void> {
    this.provider.destroy();
  }
}
