import { describe, expect, test } from "vitest";
import { JobStreamMessage, PROTOCOLS, ProviderAnnounce, REASON_CODES, RenderRequest, reasonSentence } from "../src/index.js";

describe("protocol", () => {
  test("default: ids follow /rendermesh/<name>/<semver>", () => {
    for (const id of Object.values(PROTOCOLS)) expect(id).toMatch(/^\/rendermesh\/[a-z]+\/\d+\.\d+\.\d+$/);
  });

  test("behavior: bigints travel as decimal strings", () => {
    const parsed = ProviderAnnounce.parse({
      type: "announce",
      address: "0x" + "12".repeat(20),
      models: ["0x" + "34".repeat(32)],
      askPerSecond: "1000000000000000000000",
      capacity: 2,
      benchmarkFps: 30,
      device: "cpu",
      active: 0,
      agent: "rendermesh-provider/0.1.0",
      timestamp: Date.now(),
      signature: "0x" + "00".repeat(65),
    });
    expect(parsed.askPerSecond).toBe(10n ** 21n);
  });

  test("error: a render request with a malformed assignment is rejected", () => {
    const r = RenderRequest.safeParse({
      type: "render",
      chainId: 1,
      escrow: "0x" + "00".repeat(20),
      spec: {},
      assignment: {},
      signature: "0x",
    });
    expect(r.success).toBe(false);
  });

  test("behavior: error messages are part of the job stream", () => {
    const m = JobStreamMessage.parse({ type: "error", code: "BUSY", message: "too many jobs", retryAfterMs: 500 });
    expect(m.type).toBe("error");
  });

  test("default: every reason code has a sentence", () => {
    for (const code of REASON_CODES) expect(reasonSentence(code).length).toBeGreaterThan(10);
    expect(reasonSentence("POLICY_BLOCKED_TERM", 'It matched "x".')).toContain('matched "x"');
  });
});
