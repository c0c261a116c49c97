import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { BrowserProvider, type Eip1193Provider, type JsonRpcSigner } from "ethers";
import type { Config } from "./api.js";

/**
 * The wallet is always an EIP-1193 provider behind ethers' BrowserProvider:
 * an injected one (MetaMask and the like), or — on the local dev network —
 * the dev RPC itself, whose Hardhat node holds the dev accounts unlocked and
 * signs eth_sendTransaction / eth_signTypedData_v4 for them.
 */
declare global {
  interface Window {
    ethereum?: Eip1193Provider & { on?: (event: string, fn: (...args: unknown[]) => void) => void };
  }
}

/** EIP-1193 over the local node's /rpc, for one dev account. */
function devEip1193(address: string): Eip1193Provider {
  let id = 0;
  return {
    async request({ method, params }: { method: string; params?: unknown[] | Record<string, unknown> }) {
      if (method === "eth_accounts" || method === "eth_requestAccounts") return [address];
      const res = await fetch("rpc", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      });
      const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    },
  };
}

export interface WalletState {
  kind: "dev" | "injected" | "none";
  address: string | undefined;
  label: string | undefined;
  /** The node holds this account's key and can run jobs for it. */
  nodeSigns: boolean;
  signer(): Promise<JsonRpcSigner>;
  browserProvider(): BrowserProvider;
  chooseDev(address: string): void;
  connectInjected(): Promise<void>;
  error: string | undefined;
}

const WalletContext = createContext<WalletState | undefined>(undefined);

export function useWallet(): WalletState {
  const w = useContext(WalletContext);
  if (!w) throw new Error("useWallet outside WalletProvider");
  return w;
}

export function WalletProvider({ config, children }: { config: Config; children: ReactNode }) {
  const initial = config.dev
    ? (localStorage.getItem("rendermesh.devAccount") ?? config.accounts.find((a) => a.role === "client")?.address)
    : undefined;
  const [kind, setKind] = useState<WalletState["kind"]>(initial ? "dev" : "none");
  const [address, setAddress] = useState<string | undefined>(initial);
  const [error, setError] = useState<string>();

  const eip1193 = useCallback((): Eip1193Provider => {
    if (kind === "injected" && window.ethereum) return window.ethereum;
    if (kind === "dev" && address) return devEip1193(address);
    throw new Error("Connect a wallet first.");
  }, [kind, address]);

  useEffect(() => {
    if (kind !== "injected" || !window.ethereum?.on) return;
    window.ethereum.on("accountsChanged", (accounts) => setAddress((accounts as string[])[0]));
  }, [kind]);

  const value = useMemo<WalletState>(() => {
    const account = config.accounts.find((a) => a.address.toLowerCase() === address?.toLowerCase());
    return {
      kind,
      address,
      label: account?.label ?? (kind === "injected" ? "your wallet" : undefined),
      nodeSigns: account?.nodeSigns ?? false,
      error,
      browserProvider: () => new BrowserProvider(eip1193(), config.chainId),
      async signer() {
        if (!address) throw new Error("Connect a wallet first.");
        const provider = new BrowserProvider(eip1193(), config.chainId);
        if (kind === "injected") {
          const net = await provider.getNetwork();
          if (Number(net.chainId) !== config.chainId)
            throw new Error(`Your wallet is on chain ${net.chainId}; switch it to chain ${config.chainId}, the network this node serves.`);
        }
        return provider.getSigner(address);
      },
      chooseDev(a: string) {
        localStorage.setItem("rendermesh.devAccount", a);
        setKind("dev");
        setAddress(a);
        setError(undefined);
      },
      async connectInjected() {
        if (!window.ethereum) {
          setError("No browser wallet found. Install one (e.g. MetaMask), or use a dev account on the local network.");
          return;
        }
        try {
          const accounts = (await window.ethereum.request({ method: "eth_requestAccounts" })) as string[];
          setKind("injected");
          setAddress(accounts[0]);
          setError(undefined);
        } catch {
          setError("The wallet did not connect (the request was declined).");
        }
      },
    };
  }, [kind, address, error, config, eip1193]);

  return <WalletContext.Provider value={value}>{children}</WalletContext.Provider>;
}

export function WalletMenu({ config }: { config: Config }) {
  const w = useWallet();
  return (
    <div className="wallet">
      {config.dev && (
        <select
          aria-label="Account"
          data-testid="account"
          value={w.kind === "dev" ? w.address : ""}
          onChange={(e) => e.target.value && w.chooseDev(e.target.value)}
        >
          <option value="">dev account…</option>
          {config.accounts.map((a) => (
            <option key={a.address} value={a.address}>
              {a.label} {a.address.slice(0, 6)}…{a.address.slice(-4)}
            </option>
          ))}
        </select>
      )}
      <button type="button" className="secondary" onClick={() => void w.connectInjected()}>
        {w.kind === "injected" ? `Wallet ${w.address?.slice(0, 6)}…` : "Connect wallet"}
      </button>
      {w.error && <span className="err">{w.error}</span>}
    </div>
  );
}
