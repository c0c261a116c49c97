import { termHash } from "@rendermesh/shared";
import { defaultModel } from "@rendermesh/shared/model";
import { runProviderCompliance } from "../../../test/compliance/render-provider.js";
import { closeRenderer, startTestChain, TestProvider } from "../src/index.js";

// The toolkit's test provider (real model and encoder, embedded Helia,
// checks against a real escrow) against the suite the real provider passes.
const MODEL = defaultModel().manifest.id as `0x${string}`;
const BLOCKED = "forbiddenword";

runProviderCompliance("@rendermesh/testing TestProvider", async () => {
  const chain = await startTestChain({ allowedModels: [MODEL], blockedTerms: [termHash(BLOCKED)] });
  try {
    const wallet = chain.providers[0]!;
    const provider = new TestProvider({
      wallet,
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      model: MODEL,
      askPerSecond: 10n ** 15n,
      chain: { provider: chain.provider, deployment: chain.deployment },
    });
    await provider.start();
    return {
      provider: {
        peerId: provider.peerId,
        multiaddrs: provider.node.getMultiaddrs().map(String),
        address: wallet.address,
        stop: () => provider.stop(),
      },
      chain,
      model: MODEL,
      blockedTerm: BLOCKED,
      teardown: async () => {
        await closeRenderer();
        await chain.stop();
      },
    };
  } catch (err) {
    await chain.stop();
    throw err;
  }
});
