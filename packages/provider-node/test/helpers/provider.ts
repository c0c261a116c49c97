import { createLogger, termHash, type Logger } from "@rendermesh/shared";
import { defaultModel } from "@rendermesh/shared/model";
import type { Wallet } from "ethers";
import { startTestChain, tempDir, type PipelineHold, type TestChain, type TestChainOptions } from "@rendermesh/testing";
import { ProviderConfig, type ProviderConfigInput } from "../../src/config.js";
import { startProvider, type Provider } from "../../src/provider.js";

export const MODEL_ID = defaultModel().manifest.id as `0x${string}`;
export const BLOCKED_TERM = "forbiddenword";

/** A chain whose policy allows the default model and blocks BLOCKED_TERM. */
export function startChain(options: Partial<TestChainOptions> = {}): Promise<TestChain> {
  return startTestChain({ allowedModels: [MODEL_ID], blockedTerms: [termHash(BLOCKED_TERM)], ...options });
}

/** Quiet logs in tests unless RENDERMESH_LOG_LEVEL says otherwise. */
export function testLogger(): Logger {
  return createLogger({ name: "provider-test", level: process.env.RENDERMESH_LOG_LEVEL ?? "warn" });
}

export { tempDir };

/** Config for a provider on loopback with a temp data dir, registered on first start. */
export function testConfig(chain: TestChain, dataDir: string, over: ProviderConfigInput = {}): ProviderConfig {
  return ProviderConfig.parse({
    rpcUrl: chain.rpcUrl,
    deployment: chain.deploymentFile,
    askPerSecond: "0.001",
    models: ["default"],
    device: "cpu",
    ipfs: "embedded",
    dataDir,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    metricsPort: 0,
    benchmarkFps: 50,
    paymentIntervalMs: 3_600_000,
    register: true,
    stake: "100",
    yes: true,
    logLevel: "warn",
    ...over,
  });
}

/** The real provider; with `hold`, its renders can be held in flight by the test. */
export async function startTestProvider(
  chain: TestChain,
  wallet: Wallet,
  dataDir: string,
  over: ProviderConfigInput = {},
  hold?: PipelineHold,
): Promise<Provider> {
  return startProvider({
    config: testConfig(chain, dataDir, over),
    privateKey: wallet.privateKey,
    logger: testLogger(),
    ...(hold ? { pipeline: hold.wrap } : {}),
  });
}
