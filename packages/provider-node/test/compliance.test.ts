import { runProviderCompliance } from "../../../test/compliance/render-provider.js";
import { BLOCKED_TERM, MODEL_ID, startChain, startTestProvider, tempDir } from "./helpers/provider.js";

// The real ONNX provider (ONNX Runtime on CPU, ffmpeg, embedded Helia, SQLite
// journal, a real escrow on a hardhat node) against the shared suite.
runProviderCompliance("rendermesh-provider (ONNX)", async () => {
  const chain = await startChain();
  const data = tempDir();
  try {
    const provider = await startTestProvider(chain, chain.providers[0]!, data.dir);
    return {
      provider: { peerId: provider.peerId, multiaddrs: provider.multiaddrs(), address: provider.address, stop: () => provider.stop() },
      chain,
      model: MODEL_ID,
      blockedTerm: BLOCKED_TERM,
      teardown: async () => {
        await chain.stop();
        data.cleanup();
      },
    };
  } catch (err) {
    await chain.stop();
    data.cleanup();
    throw err;
  }
});
