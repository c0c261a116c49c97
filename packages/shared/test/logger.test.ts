import { Writable } from "node:stream";
import { expect, test } from "vitest";
import { createLogger } from "../src/index.js";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

test("behavior: secrets are redacted at any depth, other fields kept", () => {
  const { lines, destination } = capture();
  const log = createLogger({ name: "test", destination });
  log.info({ privateKey: "0xdeadbeef", wallet: { password: "hunter2", address: "0xabc" }, jobId: "7" }, "hello");
  const line = lines.join("");
  expect(line).not.toContain("deadbeef");
  expect(line).not.toContain("hunter2");
  const parsed = JSON.parse(line) as Record<string, unknown>;
  expect(parsed.component).toBe("test");
  expect(parsed.jobId).toBe("7");
  expect(parsed.privateKey).toBe("[redacted]");
  expect((parsed.wallet as Record<string, unknown>).address).toBe("0xabc");
});

test("behavior: a job spec's seed is public and stays in the log line", () => {
  const { lines, destination } = capture();
  const log = createLogger({ name: "test", destination });
  log.info({ spec: { prompt: "a red fox", seed: 42 }, mnemonic: "abandon abandon" }, "spec");
  const parsed = JSON.parse(lines.join("")) as { spec: { seed: number }; mnemonic: string };
  expect(parsed.spec.seed).toBe(42);
  expect(parsed.mnemonic).toBe("[redacted]");
});
