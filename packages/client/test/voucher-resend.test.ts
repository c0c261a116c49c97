import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Coordinator } from "@rendermesh/coordinator";
import type { TestProvider } from "@rendermesh/testing";
import { generateVideo } from "../src/actions/generateVideo.js";
import { getJob } from "../src/actions/getJob.js";
import type { JobProgressEvent } from "../src/events.js";
import { account, fund, MESH, startChain, type TestChain } from "./support/chain.js";
import { Stack, startClient, startCoordinator, startProvider } from "./support/network.js";
import { closeRenderer } from "./support/segments.js";

// A provider whose acknowledgement of the job's only voucher is lost on the way back (the seam: it records the
// voucher and resets the stream). Sent once, the client would settle without the acknowledgement: the job would be
// left closing for its challenge window. The voucher is sent again before the settle until acknowledged, so the
// settle is cooperative and closes the job at once. A real chain, coordinator and test provider (one, so it renders
// every segment).

const ASK = MESH / 1000n;
let chain: TestChain;
const stack = new Stack();
let coordinator: Coordinator;
let provider: TestProvider;

beforeAll(async () => {
  chain = await startChain();
  coordinator = await startCoordinator(chain, stack);
  provider = await startProvider(chain, stack, { ask: ASK, coordinator, dropVoucherAcks: 1 });
  await fund(chain, account(9).address, 1_000n * MESH);
}, 180_000);

afterAll(async () => {
  await stack.stopAll();
  await chain?.stop();
  await closeRenderer();
}, 60_000);

describe("voucher resend before the settle", { timeout: 180_000 }, () => {
  test("behavior: a lost acknowledgement is asked for again, and the settle closes the job at once", async () => {
    const client = await startClient(chain, stack, account(9), coordinator);
    const events: JobProgressEvent[] = [];
    const result = await generateVideo(client, {
      prompt: "a lighthouse in fog",
      seconds: 1,
      fps: 4,
      width: 32,
      height: 32,
      onProgress: (e) => events.push(e),
    });

    expect(result.status).toBe("settled");
    const sent = events.filter((e) => e.type === "voucher:sent").map((e) => (e.detail as { acknowledged: boolean }).acknowledged);
    // The first send's answer was lost; the resend before the settle was answered.
    expect(sent).toEqual([false, true]);
    expect(client.journal.voucher(client.journal.getJob(result.jobId).ref, provider.address)).toMatchObject({
      seconds: 1,
      acknowledgement: expect.stringMatching(/^0x/),
    });
    // Cooperative: no challenge window, the job is settled (not closing) and the provider paid for its second.
    expect(result.payments.closing).toBeFalsy();
    expect((await getJob(client, { jobId: result.jobId })).status).toBe("settled");
    expect(result.payments.providers).toEqual([expect.objectContaining({ seconds: 1 })]);
    // It recorded the voucher both times (the first was received; only its answer was lost).
    expect(provider.vouchers.filter((v) => v.jobId.toLowerCase() === result.jobId.toLowerCase()).map((v) => v.seconds)).toEqual([1, 1]);
  });
});
