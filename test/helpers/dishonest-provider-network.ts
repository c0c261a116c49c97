// What the dishonest-provider end-to-end tests share: a dev network of three
// providers whose third runs a cheating fixture, and the checks that the
// cheat was caught by the content check, never accepted and never paid.
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { startDevNetwork, repoRoot, type RunningDevNetwork } from "../../scripts/lib/devnet.ts";
import { chain, removeTempDirs, tempDir, type ManifestLite } from "./network.ts";

/** The index of the provider that runs the cheating fixture. */
const DISHONEST = 2;

export interface DishonestProviderNetwork {
  readonly net: RunningDevNetwork;
  /** The cheating provider's address, lower case. */
  readonly cheat: string;
}

/**
 * Registers the hooks that start (before the file's tests) and stop (after them) a network of three providers in
 * which provider DISHONEST runs `test/fixtures/<fixture>`.
 */
export function useDishonestProviderNetwork(name: string, fixture: string): DishonestProviderNetwork {
  let net: RunningDevNetwork | undefined;
  beforeAll(async () => {
    net = await startDevNetwork({
      dir: tempDir(name),
      providers: 3,
      log: () => {},
      providerScript: (i) => (i === DISHONEST ? join(repoRoot, "test", "fixtures", fixture) : undefined),
      // Every provider advertises the same (modest) speed instead of its start-up benchmark: measured on a
      // loaded machine, the cheat's benchmark could come out at under half the others', and the scheduler
      // then gives the honest two every segment, so the cheat is never tried. Equal weights give each of
      // the three at least one segment of the first schedule; a low speed keeps deadlines and straggler
      // copies generous, so the cheat's delivery is verified rather than overtaken.
      providerEnv: () => ({ RENDERMESH_PROVIDER_BENCHMARK_FPS: "0.2" }),
    });
  });
  afterAll(async () => {
    await net?.stop();
    removeTempDirs();
  });
  const started = (): RunningDevNetwork => {
    if (!net) throw new Error("the network is only there inside a test of a file that calls useDishonestProviderNetwork()");
    return net;
  };
  return {
    get net() {
      return started();
    },
    get cheat() {
      return started().dev.providers[DISHONEST]!.address.toLowerCase();
    },
  };
}

/**
 * The job settled with all `segments`, each delivery of the cheat was rejected by the content check, none of its
 * segments was accepted, and it was paid nothing: not in the settle, not in escrow.
 */
export async function expectCheatCaughtAndUnpaid(
  network: DishonestProviderNetwork,
  manifest: ManifestLite,
  segments: number,
): Promise<void> {
  const { cheat } = network;
  expect(manifest.status).toBe("settled");
  expect(manifest.segments).toHaveLength(segments);
  const caught = manifest.rejections.filter((x) => x.provider.toLowerCase() === cheat);
  expect(caught.length).toBeGreaterThanOrEqual(1);
  expect(caught.every((x) => x.check === "content")).toBe(true);
  expect(manifest.segments.some((s) => s.provider.toLowerCase() === cheat)).toBe(false);
  expect(manifest.payments.providers.find((x) => x.provider.toLowerCase() === cheat)?.seconds ?? 0).toBe(0);
  const { escrow, provider } = chain(network.net.dev);
  try {
    expect((await escrow.getFunction("balanceOf")(cheat)) as bigint).toBe(0n);
  } finally {
    provider.destroy();
  }
}
