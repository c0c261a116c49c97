import { expect } from "vitest";
import type { RenderDelivered, RenderRequest } from "@rendermesh/shared";
import type { RenderDispatcher } from "../../src/supervisor/index.js";

export interface Call {
  provider: string;
  request: RenderRequest;
  resolve: (d: RenderDelivered) => void;
  reject: (err: unknown) => void;
}

/** The providers' side of the supervisor as a seam: each render call is held until the test answers it. */
export class SeamDispatcher implements RenderDispatcher {
  readonly calls: Call[] = [];

  render(_target: { peerId: string }, request: RenderRequest): Promise<RenderDelivered> {
    return new Promise<RenderDelivered>((resolve, reject) => {
      this.calls.push({ provider: request.assignment.provider.toLowerCase(), request, resolve, reject });
    });
  }

  /**
   * The `n`th render call (1-based). A settled loop has made every call it
   * decided on (the dispatch is synchronous after signing), so none is waited for.
   */
  call(n: number): Call {
    expect(this.calls.length, `render calls made so far`).toBeGreaterThanOrEqual(n);
    return this.calls[n - 1]!;
  }
}
