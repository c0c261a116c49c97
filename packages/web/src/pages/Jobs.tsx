import { useState } from "react";
import { get, post, type Config } from "../api.js";
import { mesh, short, when } from "../format.js";
import { ErrorBox, useLoad } from "../ui.js";
import { useWallet } from "../wallet.js";

interface JobRow {
  ref: string;
  jobId: string | undefined;
  prompt: string;
  spec: { seconds: number; width: number; height: number };
  phase: string;
  failure: string | undefined;
  chainStatus: string;
  deposit: string;
  verified: number;
  paidSeconds: number;
  pendingClaims: number;
  deadline: number;
  refundOpensAt: number;
  refundable: boolean;
  hasVideo: boolean;
  hasManifest: boolean;
  createdAt: number;
}

function status(j: JobRow): string {
  if (j.chainStatus === "settled") return "settled";
  if (j.chainStatus === "refunded") return "refunded";
  if (j.phase === "failed" || j.phase === "closed") return `stopped${j.failure ? `: ${j.failure}` : ""}`;
  if (j.chainStatus === "open") return `running (${j.verified}/${j.spec.seconds} verified; the Create page follows it)`;
  return j.phase;
}

export function JobsPage(_: { config: Config }) {
  const w = useWallet();
  const jobs = useLoad(
    () => (w.address ? get<{ jobs: JobRow[]; nodeSigns: boolean }>(`api/jobs?account=${w.address}`) : Promise.resolve(undefined)),
    [w.address],
  );
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();

  const refund = async (j: JobRow) => {
    setBusy(`Refunding job ${short(j.jobId)}…`);
    setError(undefined);
    try {
      await post(`api/jobs/${j.ref}/refund`, { account: w.address });
      jobs.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <h1>My jobs</h1>
      {!w.address && <p className="note">Connect a wallet or pick a dev account to see its jobs.</p>}
      {jobs.data && !jobs.data.nodeSigns && (
        <p className="note">
          This node has run no jobs for {short(w.address)}: it lists the jobs in its own journal, for the accounts it signs for.
        </p>
      )}
      {jobs.loading && <p className="muted">Reading the journal and the escrow…</p>}
      <ErrorBox error={jobs.error ?? error} />
      {busy && <p className="muted">{busy}</p>}
      {jobs.data && jobs.data.jobs.length === 0 && jobs.data.nodeSigns && (
        <p className="muted">No jobs yet. Create one on the Create page.</p>
      )}
      {jobs.data && jobs.data.jobs.length > 0 && (
        <div className="card table-wrap">
          <table data-testid="jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th>Prompt</th>
                <th>Status</th>
                <th>Paid</th>
                <th>Refund / claims</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {jobs.data.jobs.map((j) => (
                <tr key={j.ref} data-testid="job-row" data-status={j.chainStatus}>
                  <td title={j.jobId}>
                    {short(j.jobId ?? j.ref)}
                    <div className="muted">{when(j.createdAt / 1000)}</div>
                  </td>
                  <td>
                    {j.prompt}
                    <div className="muted">
                      {j.spec.seconds} s · {j.spec.width}×{j.spec.height}
                    </div>
                  </td>
                  <td>{status(j)}</td>
                  <td>
                    {j.paidSeconds} s<div className="muted">deposit {mesh(j.deposit)}</div>
                  </td>
                  <td>
                    {j.chainStatus === "open" ? (j.refundable ? "refund available now" : `refund opens ${when(j.refundOpensAt)}`) : "—"}
                    {j.pendingClaims > 0 && (
                      <div className="muted">{j.pendingClaims} provider claim(s) pending; a refund waits for them</div>
                    )}
                  </td>
                  <td>
                    {j.hasVideo && j.jobId && (
                      <a href={`api/jobs/${j.jobId}/video?account=${w.address}&download=1`} download>
                        video
                      </a>
                    )}{" "}
                    {j.hasManifest && j.jobId && (
                      <a href={`api/jobs/${j.jobId}/manifest?account=${w.address}&download=1`} download>
                        manifest
                      </a>
                    )}
                    {j.refundable && (
                      <button type="button" disabled={Boolean(busy)} onClick={() => void refund(j)}>
                        Refund
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={jobs.reload}>
          Refresh
        </button>
      </div>
    </>
  );
}
