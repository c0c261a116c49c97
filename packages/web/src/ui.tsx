import { useCallback, useEffect, useState } from "react";
import { explain } from "./api.js";

/** A failure as the CLI says it: the sentence, then "Fix: …". */
export function ErrorBox({ error, testid = "error" }: { error: unknown; testid?: string }) {
  if (!error) return null;
  const e = explain(error);
  return (
    <div className="error" role="alert" data-testid={testid} data-code={e.code}>
      <strong>{e.message}</strong>
      {e.hint && <div>Fix: {e.hint}</div>}
      <div className="code">{e.code}</div>
    </div>
  );
}

/** Loads data for a page, says that it is loading, and keeps the error to show. */
export function useLoad<T>(
  fn: () => Promise<T>,
  deps: unknown[],
): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const run = useCallback(fn, deps);
  useEffect(() => {
    let live = true;
    setLoading(true);
    run().then(
      (d) => live && (setData(d), setError(undefined), setLoading(false)),
      (e: unknown) => live && (setError(e), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [run, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

/** Sends a wallet transaction and says what happens: waiting for the wallet, mining, done or refused. */
export function useTx(onDone: () => void): {
  busy: string | undefined;
  error: unknown;
  note: string | undefined;
  done: number;
  send: (what: string, fn: () => Promise<{ wait: () => Promise<unknown> }>) => Promise<void>;
} {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string>();
  // How many transactions this page has completed: tells one "done" from the last.
  const [done, setDone] = useState(0);
  const send = async (what: string, fn: () => Promise<{ wait: () => Promise<unknown> }>) => {
    setError(undefined);
    setNote(undefined);
    setBusy(`${what}: waiting for your wallet to sign…`);
    try {
      const tx = await fn();
      setBusy(`${what}: sent, waiting for the block…`);
      await tx.wait();
      setNote(`${what}: done.`);
      setDone((n) => n + 1);
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };
  return { busy, error, note, done, send };
}
