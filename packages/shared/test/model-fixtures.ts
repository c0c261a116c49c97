import type { Renderer, RenderSpec } from "../src/model/index.js";

/** A logger that records calls instead of printing them. */
export function recordingLogger() {
  const calls: { level: string; args: unknown[] }[] = [];
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      void calls.push({ level, args });
  return { calls, info: at("info"), warn: at("warn"), debug: at("debug") };
}

export const silentLogger = { info() {}, warn() {}, debug() {} };

export async function renderAll(renderer: Renderer, spec: RenderSpec, firstFrame: number, frameCount: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const frame of renderer.renderFrames({ spec, firstFrame, frameCount })) frames.push(frame);
  return frames;
}

export const smallSpec = (overrides: Partial<RenderSpec> = {}): RenderSpec => ({
  prompt: "a calm blue sea at night",
  seed: 42,
  fps: 12,
  width: 64,
  height: 64,
  ...overrides,
});

export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
