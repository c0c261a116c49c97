import { useState } from "react";
import { Contract, parseUnits } from "ethers";
import { get, type Config } from "../api.js";
import { jobEscrowAbi, providerRegistryAbi } from "../chain.js";
import { mesh, short, when } from "../format.js";
import { ErrorBox, useLoad, useTx } from "../ui.js";
import { useWallet } from "../wallet.js";

interface ProviderStatus {
  address: string;
  registered: boolean;
  stake: string;
  minStake: string;
  askPerSecond: string;
  models: string[];
  unstake: { amount: string; availableAt: number; cooldownSeconds: number };
  withdrawable: string;
  wallet: string;
  earned: string;
  jobsPaid: number;
  claims: Array<{ jobId: string; segment: number; status: string; disputableUntil: number }>;
  pendingClaims: number;
  disputes: Array<{ jobId: string; segment: number }>;
  coordinator: { live: boolean; completed: number; failed: number; speedFps: number | null; device: string } | undefined;
  coordinatorReachable: boolean;
  now: number;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

export function ProvidePage({ config }: { config: Config }) {
  const w = useWallet();
  const s = useLoad(() => (w.address ? get<ProviderStatus>(`api/providers/${w.address}`) : Promise.resolve(undefined)), [w.address]);
  const tx = useTx(s.reload);
  const [amount, setAmount] = useState("");
  const p = s.data;
  const escrow = async () => new Contract(config.deployment.escrow, jobEscrowAbi, await w.signer());
  const registry = async () => new Contract(config.deployment.registry, providerRegistryAbi, await w.signer());
  const canWithdrawStake = p && BigInt(p.unstake.amount) > 0n && p.now >= p.unstake.availableAt;

  return (
    <>
      <h1>Provide</h1>
      {!w.address && <p className="note">Connect the provider's wallet (on the dev network, pick a provider account).</p>}
      {s.loading && <p className="muted">Reading the registry and the escrow…</p>}
      <ErrorBox error={s.error} />
      {p && !p.registered && (
        <p className="note" data-testid="not-registered">
          {short(p.address)} is not a registered provider. Register and stake with{" "}
          <code>rendermesh-provider start --register --stake 1000</code> on the machine that renders.
        </p>
      )}
      {p && p.registered && (
        <div className="card" data-testid="provider">
          <dl className="kv">
            <dt>Provider</dt>
            <dd>
              {p.address}{" "}
              {p.coordinator ? (
                p.coordinator.live ? (
                  <span className="badge good">live</span>
                ) : (
                  <span className="badge">offline</span>
                )
              ) : null}
            </dd>
            <dt>Stake</dt>
            <dd data-testid="stake">
              {mesh(p.stake)} <span className="muted">(minimum {mesh(p.minStake)})</span>
            </dd>
            <dt>Ask</dt>
            <dd>{mesh(p.askPerSecond)} per second at the reference size</dd>
            <dt>Models</dt>
            <dd>{p.models.map((m) => config.models.find((x) => x.id === m)?.name ?? short(m)).join(", ") || "none"}</dd>
            <dt>Segments rendered</dt>
            <dd data-testid="segments-rendered">
              {p.coordinator
                ? `${p.coordinator.completed} completed, ${p.coordinator.failed} failed (as the coordinator counts them)`
                : p.coordinatorReachable
                  ? "not seen by the coordinator yet"
                  : "the coordinator's API does not answer"}
            </dd>
            <dt>Earned</dt>
            <dd data-testid="earned">
              {mesh(p.earned)} <span className="muted">over {p.jobsPaid} job(s), paid by vouchers, settles and claims</span>
            </dd>
            <dt>Withdrawable</dt>
            <dd data-testid="withdrawable">{mesh(p.withdrawable)}</dd>
            <dt>Pending</dt>
            <dd data-testid="pending">
              {p.pendingClaims} claim(s) waiting out their dispute window
              {p.claims
                .filter((c) => c.status === "pending")
                .map((c) => (
                  <div key={`${c.jobId}:${c.segment}`} className="muted">
                    job {short(c.jobId)} segment {c.segment}: final after {when(c.disputableUntil)}
                  </div>
                ))}
            </dd>
            <dt>Disputes</dt>
            <dd data-testid="disputes">
              {p.disputes.length === 0
                ? "none"
                : p.disputes.map((d) => (
                    <div key={`${d.jobId}:${d.segment}`}>
                      job {short(d.jobId)} segment {d.segment}: awaiting the arbiter
                    </div>
                  ))}
            </dd>
            <dt>Unstaking</dt>
            <dd data-testid="unstaking">
              {BigInt(p.unstake.amount) > 0n
                ? `${mesh(p.unstake.amount)} ${canWithdrawStake ? "can be withdrawn now" : `unlocks ${when(p.unstake.availableAt)}`}`
                : `nothing requested (stake unlocks ${duration(p.unstake.cooldownSeconds)} after a request)`}
            </dd>
          </dl>
          <div className="actions">
            <button
              type="button"
              data-testid="withdraw"
              disabled={Boolean(tx.busy) || BigInt(p.withdrawable) === 0n}
              onClick={() => void tx.send("Withdraw earnings", async () => (await escrow()).getFunction("withdraw")())}
            >
              Withdraw {mesh(p.withdrawable)}
            </button>
          </div>
          <div className="row" style={{ marginTop: "0.8rem" }}>
            <label>
              Unstake amount (MESH)
              <input
                data-testid="unstake-amount"
                inputMode="decimal"
                value={amount}
                placeholder="e.g. 100"
                onChange={(e) => setAmount(e.target.value)}
              />
            </label>
          </div>
          <div className="actions">
            <button
              type="button"
              className="secondary"
              data-testid="unstake"
              disabled={Boolean(tx.busy) || !amount}
              onClick={() =>
                void tx.send("Request unstake", async () => {
                  let wei: bigint;
                  try {
                    wei = parseUnits(amount, 18);
                  } catch {
                    throw new Error(`"${amount}" is not an amount of MESH; type a number such as 100 or 2.5.`);
                  }
                  return (await registry()).getFunction("requestUnstake")(wei);
                })
              }
            >
              Request unstake
            </button>
            <button
              type="button"
              className="secondary"
              disabled={Boolean(tx.busy) || !canWithdrawStake}
              onClick={() => void tx.send("Withdraw stake", async () => (await registry()).getFunction("withdrawStake")())}
            >
              Withdraw unstaked
            </button>
          </div>
          {tx.busy && <p className="muted">{tx.busy}</p>}
          {tx.note && (
            <p className="ok" data-testid="tx-note" data-n={tx.done}>
              {tx.note}
            </p>
          )}
          <ErrorBox error={tx.error} testid="tx-error" />
        </div>
      )}
      <div className="actions">
        <button type="button" className="secondary" data-testid="refresh" onClick={s.reload}>
          Refresh
        </button>
      </div>
    </>
  );
}
