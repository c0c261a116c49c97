import { useState } from "react";
import { Contract, id as keccakText } from "ethers";
import { post, get, type Config } from "../api.js";
import { meshGovernorAbi, meshTokenAbi } from "../chain.js";
import { mesh, short, when } from "../format.js";
import { ErrorBox, useLoad, useTx } from "../ui.js";
import { useWallet } from "../wallet.js";

interface Proposal {
  proposalId: string;
  state: string;
  stateForNextBlock: string;
  proposer: string;
  description: string;
  calls: Array<{ summary: string }> | undefined;
  votes: { for: string; against: string; abstain: string };
  quorum: string;
  quorumReached: boolean;
  deadline: string;
  votingStartsAtBlock: string;
  currentBlock: string;
  eta: string | null;
  now: string;
  next: string;
  targets: string[];
  values: string[];
  calldatas: string[];
}

interface Dao {
  policy: {
    version: string;
    blockedTermCount: string;
    allowedModels: string[];
    limits: { maxSeconds: number; maxWidth: number; maxHeight: number; maxFps: number };
    minProviderStake: string;
    fees: { coordinatorFeeBps: number; treasuryFeeBps: number };
    disputeWindow: string;
    claimWindow: string;
    owner: string;
  };
  governance: {
    votingDelay: string;
    votingPeriod: string;
    timelockDelay: string;
    quorum: string;
    proposalThreshold: string;
    currentBlock: string;
    account?: { address: string; balance: string; delegatee: string | null; votes: string };
  };
  proposals: Proposal[];
}

export function GovernPage({ config }: { config: Config }) {
  const w = useWallet();
  const dao = useLoad(() => get<Dao>(`api/dao${w.address ? `?account=${w.address}` : ""}`), [w.address]);
  const tx = useTx(dao.reload);
  const [terms, setTerms] = useState("");
  const [description, setDescription] = useState("");
  const governor = async () => new Contract(config.deployment.governor, meshGovernorAbi, await w.signer());
  const d = dao.data;
  const me = d?.governance.account;

  const propose = () =>
    tx.send("Propose", async () => {
      const list = terms
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean);
      if (list.length === 0) throw new Error("Type at least one term to block (separate several with commas).");
      const calls = await post<{ targets: string[]; values: string[]; calldatas: string[]; description: string }>("api/dao/encode", {
        action: { type: "block-term", terms: list },
        description,
      });
      return (await governor()).getFunction("propose")(calls.targets, calls.values, calls.calldatas, calls.description);
    });

  return (
    <>
      <h1>Govern</h1>
      {dao.loading && !d && <p className="muted">Reading the policy and the proposals from the chain…</p>}
      <ErrorBox error={dao.error} />
      {d && (
        <>
          <div className="card" data-testid="policy">
            <h2>Content policy in force</h2>
            <dl className="kv">
              <dt>Version</dt>
              <dd data-testid="policy-version">{d.policy.version}</dd>
              <dt>Blocked terms</dt>
              <dd data-testid="blocked-count">
                {d.policy.blockedTermCount} (stored as hashes; a prompt that contains one is refused before anything is signed)
              </dd>
              <dt>Allowed models</dt>
              <dd>{d.policy.allowedModels.map((m) => config.models.find((x) => x.id === m)?.name ?? short(m)).join(", ")}</dd>
              <dt>Limits</dt>
              <dd>
                up to {d.policy.limits.maxSeconds} s, {d.policy.limits.maxWidth}×{d.policy.limits.maxHeight}, {d.policy.limits.maxFps} fps
              </dd>
              <dt>Fees</dt>
              <dd>
                coordinator {d.policy.fees.coordinatorFeeBps / 100}% · treasury {d.policy.fees.treasuryFeeBps / 100}%
              </dd>
              <dt>Provider stake</dt>
              <dd>at least {mesh(d.policy.minProviderStake)}</dd>
              <dt>Windows</dt>
              <dd>
                disputes {d.policy.disputeWindow} s · claims {d.policy.claimWindow} s
              </dd>
            </dl>
          </div>

          <div className="card">
            <h2>Your votes</h2>
            {!me && <p className="muted">Connect a wallet to vote.</p>}
            {me && (
              <>
                <p data-testid="votes">
                  {mesh(me.balance)} held · {mesh(me.votes)} of voting power{" "}
                  {me.delegatee
                    ? me.delegatee.toLowerCase() === me.address.toLowerCase()
                      ? "(delegated to yourself)"
                      : `(delegated to ${short(me.delegatee)})`
                    : "(not delegated: tokens vote only once delegated)"}
                </p>
                {BigInt(me.balance) > 0n && me.delegatee?.toLowerCase() !== me.address.toLowerCase() && (
                  <button
                    type="button"
                    disabled={Boolean(tx.busy)}
                    onClick={() =>
                      void tx.send("Delegate", async () =>
                        new Contract(config.deployment.token, meshTokenAbi, await w.signer()).getFunction("delegate")(me.address),
                      )
                    }
                  >
                    Delegate to myself
                  </button>
                )}
              </>
            )}
            <p className="muted">
              Proposals need {mesh(d.governance.proposalThreshold)} of votes; voting opens {d.governance.votingDelay} block(s) after a
              proposal and lasts {d.governance.votingPeriod} blocks; a passed proposal waits {d.governance.timelockDelay} s in the timelock.
              Quorum now: {mesh(d.governance.quorum)}.
            </p>
          </div>

          <div className="card">
            <h2>Propose: block terms</h2>
            <label>
              Terms (comma-separated)
              <input data-testid="terms" value={terms} onChange={(e) => setTerms(e.target.value)} placeholder="e.g. red fox" />
            </label>
            <label>
              Description (optional)
              <input
                data-testid="description"
                value={description}
                onChange={(e) => setDescription(e.target.value)}
                placeholder="why the DAO should block them"
              />
            </label>
            <button type="button" data-testid="propose" disabled={Boolean(tx.busy) || !w.address} onClick={() => void propose()}>
              Propose
            </button>
          </div>
          {tx.busy && (
            <p className="muted" data-testid="tx-busy">
              {tx.busy}
            </p>
          )}
          {tx.note && (
            <p className="ok" data-testid="tx-note" data-n={tx.done}>
              {tx.note}
            </p>
          )}
          <ErrorBox error={tx.error} testid="tx-error" />

          <h2>Proposals</h2>
          <p className="muted">As of block {d.governance.currentBlock}; Refresh reads the chain again.</p>
          {d.proposals.length === 0 && <p className="muted">No proposals yet.</p>}
          {d.proposals.map((p) => (
            <div className="card" key={p.proposalId} data-testid="proposal" data-state={p.state}>
              <p>
                <strong>{p.description}</strong> <span className="badge">{p.state}</span>
              </p>
              {p.calls?.map((c, i) => (
                <div key={i} className="muted">
                  {c.summary}
                </div>
              ))}
              <p>
                for {mesh(p.votes.for)} · against {mesh(p.votes.against)} · abstain {mesh(p.votes.abstain)} · quorum {mesh(p.quorum)}{" "}
                {p.quorumReached ? <span className="badge good">reached</span> : <span className="badge">not reached</span>}
              </p>
              <p className="muted" data-testid="next">
                {p.next}
                {p.eta ? ` (executable after ${when(Number(p.eta))})` : ""}
              </p>
              <div className="actions">
                {p.stateForNextBlock === "Active" && (
                  <>
                    <button
                      type="button"
                      data-testid="vote-for"
                      disabled={Boolean(tx.busy)}
                      onClick={() => void tx.send("Vote for", async () => (await governor()).getFunction("castVote")(p.proposalId, 1))}
                    >
                      Vote for
                    </button>
                    <button
                      type="button"
                      className="secondary"
                      disabled={Boolean(tx.busy)}
                      onClick={() => void tx.send("Vote against", async () => (await governor()).getFunction("castVote")(p.proposalId, 0))}
                    >
                      Against
                    </button>
                    <button
                      type="button"
                      className="secondary"
                      disabled={Boolean(tx.busy)}
                      onClick={() => void tx.send("Abstain", async () => (await governor()).getFunction("castVote")(p.proposalId, 2))}
                    >
                      Abstain
                    </button>
                  </>
                )}
                {p.stateForNextBlock === "Succeeded" && (
                  <button
                    type="button"
                    data-testid="queue"
                    disabled={Boolean(tx.busy)}
                    onClick={() =>
                      void tx.send("Queue", async () =>
                        (await governor()).getFunction("queue")(p.targets, p.values, p.calldatas, keccakText(p.description)),
                      )
                    }
                  >
                    Queue
                  </button>
                )}
                {p.state === "Queued" && (
                  <button
                    type="button"
                    data-testid="execute"
                    disabled={Boolean(tx.busy)}
                    onClick={() =>
                      void tx.send("Execute", async () =>
                        (await governor()).getFunction("execute")(p.targets, p.values, p.calldatas, keccakText(p.description)),
                      )
                    }
                  >
                    Execute
                  </button>
                )}
              </div>
            </div>
          ))}
        </>
      )}
      <div className="actions">
        <button type="button" className="secondary" data-testid="refresh" onClick={dao.reload}>
          Refresh
        </button>
      </div>
    </>
  );
}
