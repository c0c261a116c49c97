import { useEffect, useRef, useState } from "react";
import { ApiError, get, post, type ApiErrorBody, type Config } from "../api.js";
import { mesh, short } from "../format.js";
import { ErrorBox } from "../ui.js";
import { useWallet } from "../wallet.js";

interface Quote {
  spec: { prompt: string; seconds: number; width: number; height: number; fps: number; model: string };
  policyVersion: string;
  quote: {
    pricePerSecond: string;
    deposit: string;
    providers: number;
    etaSeconds: number;
    coordinator: string;
    coordinatorFeeBps: number;
    treasuryFeeBps: number;
  };
  balance: string;
}

interface RunEvent {
  seq: number;
  at: number;
  type: string;
  detail: Record<string, unknown>;
}

interface Payments {
  deposit: string;
  pricePerSecond: string;
  providers: Array<{ provider: string; seconds: number; amount: string }>;
  coordinator: { address: string; amount: string };
  treasury: { amount: string };
  refund: string;
  paidSeconds: number;
}

type SegState = "waiting" | "assigned" | "rendering" | "delivered" | "verified" | "paid" | "rejected" | "failed";
interface Seg {
  state: SegState;
  provider?: string;
  frames?: [number, number];
  psnr?: number;
  note?: string;
}

const SIZES = ["64x64", "96x96", "128x128", "192x192", "256x256"];

/** One plain sentence per progress event, as the CLI's progress lines say it. */
function sentence(e: RunEvent): string | undefined {
  const d = e.detail;
  switch (e.type) {
    case "run:started":
      return "Starting: checking the policy and asking for a fresh quote.";
    case "policy:checked":
      return `The prompt passes the content policy in force (version ${String(d.policyVersion)}).`;
    case "quote:received":
      return `Quoted ${mesh(d.pricePerSecond as string)} per second by ${String(d.providers)} live provider(s).`;
    case "job:opening":
      return `Opening the escrow (permit and deposit in one transaction ${short(d.txHash as string)})…`;
    case "job:opened":
      return `Escrow open: ${mesh(d.deposit as string)} deposited for job ${short(d.jobId as string)}.`;
    case "job:submitted":
      return d.resumed ? "Following the job again after a reconnect." : "Job submitted to the coordinator.";
    case "job:accepted":
      return `The coordinator accepted the job: ${String(d.segments)} segment(s) to render.`;
    case "segment:assigned":
      return `Segment ${String(d.segment)} assigned to ${short(d.provider as string)}${d.speculative ? " (a speculative copy)" : ""}.`;
    case "segment:delivered":
      return `Segment ${String(d.segment)} arrived from ${short(d.provider as string)}; fetching it over IPFS and verifying it here.`;
    case "segment:verified":
      return `Segment ${String(d.segment)} verified on this machine (spot check ${Number(d.psnrDb).toFixed(1)} dB).`;
    case "segment:rejected":
      return `Segment ${String(d.segment)} from ${short(d.provider as string)} failed the ${String(d.check)} check and is not paid: ${String(d.message)}`;
    case "segment:duplicate":
      return `A second copy of segment ${String(d.segment)} arrived; it is not needed and not paid.`;
    case "segment:failed":
      return `Segment ${String(d.segment)} failed at ${short(d.provider as string)} (${String(d.code)}: ${String(d.message)})${d.willRetry ? "; the coordinator retries it." : "."}`;
    case "voucher:signed":
      return `Voucher signed: ${short(d.provider as string)} is owed ${String(d.seconds)} second(s).`;
    case "voucher:sent":
      return d.acknowledged
        ? `The provider acknowledged its voucher for ${String(d.seconds)} second(s).`
        : `The provider did not take its voucher (${String(d.error)}); settle pays it anyway.`;
    case "job:complete":
      return "Every segment is verified.";
    case "video:assembled":
      return `The video is joined (${Math.round(Number(d.bytes) / 1024)} KiB).`;
    case "settle:sent":
      return `Settling on the chain (${short(d.txHash as string)})…`;
    case "settle:confirmed":
      return "Settled: providers are paid and the rest of the deposit is refunded.";
    case "settle:skipped":
      return `Settle skipped: ${String(d.reason)}.`;
    case "manifest:written":
      return "The manifest is written.";
    case "run:done":
      return "Done.";
    case "run:failed":
      return `Stopped: ${(d.error as ApiErrorBody | undefined)?.message ?? "the job failed."}`;
    default:
      return undefined;
  }
}

function segmentsFrom(events: RunEvent[], total: number): Seg[] {
  const segs: Seg[] = Array.from({ length: total }, () => ({ state: "waiting" }));
  const paidByProvider = new Map<string, number>();
  for (const e of events) {
    const d = e.detail;
    const i = typeof d.segment === "number" ? d.segment : -1;
    const s = segs[i];
    if (e.type === "voucher:signed") paidByProvider.set(String(d.provider).toLowerCase(), Number(d.seconds));
    if (!s) continue;
    if (e.type === "segment:assigned" && s.state !== "verified" && s.state !== "paid")
      Object.assign(s, { state: "assigned", provider: d.provider });
    if (e.type === "segment:progress" && (s.state === "assigned" || s.state === "rendering"))
      Object.assign(s, { state: "rendering", frames: [d.framesDone, d.frameCount] });
    if (e.type === "segment:delivered") Object.assign(s, { state: "delivered", provider: d.provider });
    if (e.type === "segment:verified") Object.assign(s, { state: "paid", provider: d.provider, psnr: d.psnrDb });
    if (e.type === "segment:rejected") Object.assign(s, { state: "rejected", note: String(d.check) });
    if (e.type === "segment:failed") Object.assign(s, { state: d.willRetry ? "waiting" : "failed", note: String(d.code) });
  }
  return segs;
}

const LABEL: Record<SegState, string> = {
  waiting: "waiting",
  assigned: "assigned",
  rendering: "rendering",
  delivered: "verifying",
  verified: "verified",
  paid: "verified · paid",
  rejected: "rejected",
  failed: "failed",
};

export function CreatePage({ config }: { config: Config }) {
  const w = useWallet();
  const [prompt, setPrompt] = useState("a calm blue sea at dawn");
  const [model, setModel] = useState(config.models[0]?.id ?? "");
  const [seconds, setSeconds] = useState("4");
  const [size, setSize] = useState(`${config.specDefaults.width}x${config.specDefaults.height}`);
  const [fps, setFps] = useState(String(config.specDefaults.fps));
  const [quote, setQuote] = useState<Quote>();
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [runId, setRunId] = useState<string>();
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [now, setNow] = useState(Date.now());
  const [lost, setLost] = useState(false);
  const source = useRef<EventSource | undefined>(undefined);

  const spec = () => {
    const [width, height] = size.split("x").map(Number);
    return { prompt, model, seconds: Number(seconds), width, height, fps: Number(fps) };
  };

  // Any change to the form voids the quote: what is signed is what was quoted.
  useEffect(() => setQuote(undefined), [prompt, model, seconds, size, fps, w.address]);

  // A page opened (or reloaded) while one of this account's jobs runs on the node follows that job again.
  useEffect(() => {
    if (!w.address || runId) return;
    get<{ runs: Array<{ id: string; state: string; startedAt: number }> }>(`api/runs?account=${w.address}`).then(
      (r) => {
        const running = r.runs.filter((x) => x.state === "running").sort((a, b) => b.startedAt - a.startedAt)[0];
        if (running) setRunId(running.id);
      },
      () => undefined,
    );
  }, [w.address, runId]);

  useEffect(() => {
    if (!runId) return;
    const es = new EventSource(`api/runs/${runId}/events`);
    source.current = es;
    setEvents([]);
    es.onopen = () => setLost(false);
    es.onmessage = (m) => {
      const e = JSON.parse(m.data as string) as RunEvent;
      setEvents((prev) => (prev.some((p) => p.seq === e.seq) ? prev : [...prev, e]));
      if (e.type === "run:done" || e.type === "run:failed") es.close();
    };
    // EventSource reconnects by itself; meanwhile say so rather than look frozen.
    es.onerror = () => setLost(es.readyState !== EventSource.CLOSED);
    return () => es.close();
  }, [runId]);

  const last = events.at(-1);
  const finished = last?.type === "run:done" || last?.type === "run:failed";
  // A clock only for the "last heard" line, so a quiet job says so instead of looking stuck.
  useEffect(() => {
    if (!runId || finished) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [runId, finished]);

  const getQuote = async () => {
    setError(undefined);
    setQuote(undefined);
    if (!w.address) return setError(new Error("Connect a wallet or pick a dev account first."));
    setBusy("Checking the prompt against the policy on the chain and asking the coordinator for a price…");
    try {
      setQuote(await post<Quote>("api/quote", { account: w.address, spec: spec() }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const start = async () => {
    if (!quote || !w.address) return;
    setError(undefined);
    setBusy("Starting the job…");
    try {
      const { id } = await post<{ id: string }>("api/jobs", {
        account: w.address,
        spec: spec(),
        acceptedPricePerSecond: quote.quote.pricePerSecond,
      });
      setRunId(id);
      setQuote(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const jobId = (events.find((e) => e.type === "job:opened")?.detail.jobId as string | undefined) ?? undefined;
  const total = (events.find((e) => e.type === "run:started")?.detail.spec as { seconds?: number } | undefined)?.seconds ?? 0;
  const segs = segmentsFrom(events, total);
  const done = events.find((e) => e.type === "run:done")?.detail as
    { result?: { payments: Payments; jobId: string; verified: number } } | undefined;
  const failed = events.find((e) => e.type === "run:failed")?.detail as { error?: ApiErrorBody } | undefined;
  const acct = `account=${w.address ?? ""}`;

  return (
    <>
      <h1>Create a video</h1>
      <div className="card">
        <label>
          Prompt
          <textarea data-testid="prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </label>
        <div className="row">
          <label>
            Model
            <select data-testid="model" value={model} onChange={(e) => setModel(e.target.value)}>
              {config.models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} {m.version}
                </option>
              ))}
            </select>
          </label>
          <label>
            Length (seconds)
            <input data-testid="seconds" type="number" min={1} max={600} value={seconds} onChange={(e) => setSeconds(e.target.value)} />
          </label>
          <label>
            Size
            <select data-testid="size" value={size} onChange={(e) => setSize(e.target.value)}>
              {[...new Set([...SIZES, `${config.specDefaults.width}x${config.specDefaults.height}`])].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Frames per second
            <input data-testid="fps" type="number" min={1} max={60} value={fps} onChange={(e) => setFps(e.target.value)} />
          </label>
        </div>
        {!w.nodeSigns && w.address && (
          <div className="note">
            The local node holds no key for {short(w.address)}, so it cannot pay for a job from it. On the dev network pick a dev account;
            elsewhere start the node with your key (see the README).
          </div>
        )}
        <div className="actions">
          <button type="button" data-testid="quote" disabled={Boolean(busy) || !w.address} onClick={() => void getQuote()}>
            Check policy and get a quote
          </button>
        </div>
        {busy && (
          <p className="muted" data-testid="busy">
            {busy}
          </p>
        )}
        <ErrorBox error={error} testid="create-error" />
        {quote && (
          <div className="note" data-testid="quote-box">
            <p className="ok">
              <strong>Allowed</strong> by the content policy in force (version {quote.policyVersion}).
            </p>
            <dl className="kv">
              <dt>Price</dt>
              <dd data-testid="price">{mesh(quote.quote.pricePerSecond)} per second</dd>
              <dt>Deposit</dt>
              <dd>
                {mesh(quote.quote.deposit)} for {quote.spec.seconds} s (what is not earned by verified seconds comes back)
              </dd>
              <dt>Fees</dt>
              <dd>
                coordinator {quote.quote.coordinatorFeeBps / 100}% · treasury {quote.quote.treasuryFeeBps / 100}%
              </dd>
              <dt>Providers</dt>
              <dd>
                {quote.quote.providers} live · about {quote.quote.etaSeconds} s
              </dd>
              <dt>Your balance</dt>
              <dd>{mesh(quote.balance)}</dd>
            </dl>
            {w.nodeSigns ? (
              <div className="actions">
                <button
                  type="button"
                  data-testid="start"
                  disabled={Boolean(busy) || (runId !== undefined && !finished)}
                  onClick={() => void start()}
                >
                  Approve {mesh(quote.quote.deposit)} and start
                </button>
              </div>
            ) : (
              <p className="muted" data-testid="no-key">
                This node cannot pay from {short(w.address)}: it signs jobs only for the accounts it holds keys for (see the README). The
                quote and the policy check above are the network&apos;s answer all the same.
              </p>
            )}
          </div>
        )}
      </div>

      {runId && (
        <div className="card" data-testid="run" data-state={finished ? (done ? "done" : "failed") : "running"}>
          <h2>
            Job {jobId ? short(jobId) : "(opening)"}{" "}
            {finished ? (
              done ? (
                <span className="badge good">settled</span>
              ) : (
                <span className="badge bad">stopped</span>
              )
            ) : (
              <span className="badge">running</span>
            )}
          </h2>
          {!finished && lost && (
            <p className="error" data-testid="lost">
              Lost the connection to the local node; reconnecting. The job goes on in the node (its journal resumes it if the node
              restarts).
            </p>
          )}
          {!finished && last && now - last.at > 20_000 && (
            <p className="note" data-testid="quiet">
              Nothing new for {Math.round((now - last.at) / 1000)} s; the last step was: {sentence(last) ?? last.type}. Providers may still
              be rendering; the job stops with a reason if they miss their deadline.
            </p>
          )}
          <div className="segments" data-testid="segments">
            {segs.map((s, i) => (
              <div className="segment" key={i} data-testid={`segment-${i}`} data-state={s.state}>
                {(s.state === "paid" || s.state === "verified") && jobId ? (
                  <img alt={`segment ${i}`} src={`api/jobs/${jobId}/segments/${i}/thumb?${acct}`} />
                ) : (
                  <div className="ph" />
                )}
                <div>
                  #{i} {LABEL[s.state]}
                </div>
                {s.provider && <div className="muted">{short(s.provider)}</div>}
                {s.frames && (
                  <div className="bar">
                    <div style={{ width: `${(100 * s.frames[0]) / s.frames[1]}%` }} />
                  </div>
                )}
                {s.psnr !== undefined && <div className="muted">{s.psnr.toFixed(1)} dB</div>}
                {s.note && <div className="muted">{s.note}</div>}
              </div>
            ))}
          </div>
          {failed?.error && <ErrorBox error={new ApiError(failed.error)} testid="run-error" />}
          {done?.result && jobId && <Finished jobId={jobId} account={w.address ?? ""} payments={done.result.payments} />}
          <h2>Progress</h2>
          <ol className="log" data-testid="log">
            {events.map((e) => {
              const s = sentence(e);
              return s ? <li key={e.seq}>{s}</li> : null;
            })}
          </ol>
        </div>
      )}
    </>
  );
}

function Finished({ jobId, account, payments }: { jobId: string; account: string; payments: Payments }) {
  const [chainCheck, setChainCheck] = useState<string>();
  useEffect(() => {
    // The table below is the settle receipt's events as the node read them; say what the chain holds now too.
    get<{ jobs: Array<{ jobId: string; chainStatus: string; paidSeconds: number }> }>(`api/jobs?account=${account}`).then(
      (r) => {
        const j = r.jobs.find((x) => x.jobId === jobId);
        if (j) setChainCheck(`The escrow now says: ${j.chainStatus}, ${j.paidSeconds} second(s) paid.`);
      },
      () => setChainCheck(undefined),
    );
  }, [jobId, account]);
  const q = `account=${account}`;
  return (
    <>
      <h2>Your video</h2>
      <video data-testid="video" controls playsInline src={`api/jobs/${jobId}/video?${q}`} />
      <div className="actions">
        <a href={`api/jobs/${jobId}/video?${q}&download=1`} download>
          <button type="button">Download video</button>
        </a>
        <a href={`api/jobs/${jobId}/manifest?${q}&download=1`} download>
          <button type="button" className="secondary">
            Download manifest
          </button>
        </a>
      </div>
      <h2>Payments (read from the chain)</h2>
      <div className="table-wrap">
        <table data-testid="payments">
          <thead>
            <tr>
              <th>Who</th>
              <th>Seconds</th>
              <th>Amount</th>
            </tr>
          </thead>
          <tbody>
            {payments.providers.map((p) => (
              <tr key={p.provider}>
                <td>provider {short(p.provider)}</td>
                <td>{p.seconds}</td>
                <td>{mesh(p.amount)}</td>
              </tr>
            ))}
            <tr>
              <td>coordinator {short(payments.coordinator.address)}</td>
              <td />
              <td>{mesh(payments.coordinator.amount)}</td>
            </tr>
            <tr>
              <td>treasury</td>
              <td />
              <td>{mesh(payments.treasury.amount)}</td>
            </tr>
            <tr>
              <td>refunded to you</td>
              <td />
              <td>{mesh(payments.refund)}</td>
            </tr>
            <tr>
              <th>deposit</th>
              <th>{payments.paidSeconds} paid</th>
              <th>{mesh(payments.deposit)}</th>
            </tr>
          </tbody>
        </table>
      </div>
      {chainCheck && <p className="muted">{chainCheck}</p>}
    </>
  );
}
