/// <reference lib="dom" />
// The web app in a real browser (Debian's chromium driven by playwright-core)
// against a real local network: a Hardhat node, the contracts, a coordinator
// and a provider (libp2p, ONNX Runtime, ffmpeg, Helia), and the local web
// node that verifies segments on this machine. Every wait is on a page
// selector or event; the chain is moved forward with RPC calls, not sleeps.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { JsonRpcProvider, Network, verifyTypedData } from "ethers";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { increaseTime, localProvider, mineBlocks } from "@rendermesh/client";
import { startDevWebNode, type WebNode } from "@rendermesh/web/server";
import { startDevNetwork, type RunningDevNetwork } from "../../../scripts/lib/devnet.ts";

const webRoot = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = join(webRoot, "..", "..");
/** Set RENDERMESH_WEB_SCREENSHOTS=1 to (re)write docs/web-*.png from this run. */
const shots = process.env.RENDERMESH_WEB_SCREENSHOTS === "1" ? join(repoRoot, "docs") : undefined;
const LONG = 480_000;

let dir: string;
let net: RunningDevNetwork;
let web: WebNode;
let browser: Browser;

function chromiumPath(): string {
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("No chromium on PATH: install it with `apt-get install -y chromium` (.ci/run does).");
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rendermesh-web-"));
  const staticDir = join(dir, "app");
  mkdirSync(staticDir);
  await build({ configFile: join(webRoot, "vite.config.ts"), logLevel: "warn", build: { outDir: staticDir, emptyOutDir: true } });
  net = await startDevNetwork({ dir: join(dir, "net"), providers: 1, log: () => {} });
  web = await startDevWebNode(net.dev, { dataDir: join(dir, "web"), port: 0, staticDir });
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, LONG);

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await net?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(hash: string, account: string, width = 1100): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.setDefaultTimeout(60_000);
  await page.goto(`${web.url}/#/${hash}`);
  await page.selectOption('[data-testid="account"]', account);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: join(shots, `web-${name}.png`), fullPage: true });
}

async function earned(page: Page): Promise<string> {
  return (await page.locator('[data-testid="earned"]').textContent()) ?? "";
}

describe("the dev wallet", () => {
  test("Hardhat's node signs EIP-712 (eth_signTypedData_v4) and sends transactions for an unlocked dev account, as the page's JsonRpcSigner asks", async () => {
    const provider = new JsonRpcProvider(net.dev.rpcUrl, Network.from(net.dev.chainId), { staticNetwork: true, cacheTimeout: -1 });
    const address = net.dev.accounts.client.address;
    const signer = await provider.getSigner(address);
    const domain = { name: "Rendermesh", version: "1", chainId: net.dev.chainId, verifyingContract: net.deployment.escrow };
    const types = {
      Voucher: [
        { name: "jobId", type: "bytes32" },
        { name: "provider", type: "address" },
        { name: "seconds", type: "uint32" },
      ],
    };
    const voucher = { jobId: `0x${"11".repeat(32)}`, provider: net.dev.accounts.providers[0]!.address, seconds: 3 };
    const signature = await signer.signTypedData(domain, types, voucher);
    expect(verifyTypedData(domain, types, voucher, signature)).toBe(address);
    const receipt = await (await signer.sendTransaction({ to: address, value: 1n })).wait();
    expect(receipt?.from).toBe(address);
    provider.destroy();
  });
});

describe("the web app in Chromium", () => {
  test(
    "create a job, watch every segment verified and paid, play the video; the provider's earnings grow",
    async () => {
      const provider = net.dev.accounts.providers[0]!.address;
      const prov = await open("provide", provider);
      await prov.locator('[data-testid="provider"]').waitFor();
      const earnedBefore = await earned(prov);
      expect(earnedBefore).toMatch(/^0 MESH/);

      const page = await open("create", net.dev.accounts.client.address);
      await page.fill('[data-testid="prompt"]', "a calm blue sea at dawn");
      await page.fill('[data-testid="seconds"]', "2");
      await page.selectOption('[data-testid="size"]', "64x64");
      await page.fill('[data-testid="fps"]', "4");
      await page.click('[data-testid="quote"]');
      // The quote and the policy check come before anything is signed.
      await page.locator('[data-testid="quote-box"]').waitFor();
      await expect(page.locator('[data-testid="quote-box"]').textContent()).resolves.toContain("Allowed");
      await page.click('[data-testid="start"]');
      await page.locator('[data-testid="run"][data-state="done"]').waitFor({ timeout: LONG });
      expect(await page.locator('[data-testid="segments"] [data-state="paid"]').count()).toBe(2);
      await page.locator('[data-testid="segment-0"] img').waitFor();

      // The <video> plays the joined file: its duration is the job's length.
      const duration = await page.locator('[data-testid="video"]').evaluate(
        (v: HTMLVideoElement) =>
          new Promise<number>((resolve, reject) => {
            if (v.readyState >= 1) return resolve(v.duration);
            v.addEventListener("loadedmetadata", () => resolve(v.duration), { once: true });
            v.addEventListener("error", () => reject(new Error(`video error ${v.error?.code}: ${v.error?.message}`)), { once: true });
          }),
      );
      expect(duration).toBeCloseTo(2, 1);
      const table = (await page.locator('[data-testid="payments"]').textContent()) ?? "";
      expect(table).toContain("refunded to you");
      expect(table).toMatch(/2 paid/);
      await shot(page, "create");

      await prov.click('[data-testid="refresh"]');
      await prov.waitForFunction((before) => document.querySelector('[data-testid="earned"]')?.textContent !== before, earnedBefore);
      expect(await earned(prov)).not.toMatch(/^0 MESH/);
      await shot(prov, "provide");
      // The provider withdraws its earnings from its own wallet.
      await prov.click('[data-testid="withdraw"]');
      await prov.locator('[data-testid="tx-note"][data-n="1"]', { hasText: "Withdraw earnings: done." }).waitFor();
      await prov.locator('[data-testid="withdrawable"]', { hasText: /^0 MESH$/ }).waitFor();
      // …and asks to unstake part of its stake, which unlocks after the cooldown.
      await prov.fill('[data-testid="unstake-amount"]', "100");
      await prov.click('[data-testid="unstake"]');
      await prov.locator('[data-testid="tx-note"][data-n="2"]', { hasText: "Request unstake: done." }).waitFor();
      await prov.locator('[data-testid="unstaking"]', { hasText: /^100 MESH (unlocks|can be withdrawn)/ }).waitFor();

      const jobs = await open("jobs", net.dev.accounts.client.address);
      await jobs.locator('[data-testid="job-row"][data-status="settled"]').waitFor();
      await shot(jobs, "jobs");

      // At a phone's width the page still lays out (nothing wider than the screen).
      const phone = await open("create", net.dev.accounts.client.address, 390);
      await phone.locator('[data-testid="quote"]').waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(phone, "phone");
      await Promise.all([prov, page, jobs, phone].map((p) => p.close()));
    },
    LONG,
  );

  test(
    "a policy proposal passes through the Governor from the wallet, and the create form then refuses a blocked prompt",
    async () => {
      const rpc = localProvider(net.dev.rpcUrl, net.dev.chainId);
      const [m1, m2] = net.dev.accounts.dao;
      const gov = await open("govern", m1!.address);
      await gov.locator('[data-testid="policy-version"]').waitFor();
      const versionBefore = Number(await gov.locator('[data-testid="policy-version"]').textContent());
      await gov.fill('[data-testid="terms"]', "red fox");
      await gov.fill('[data-testid="description"]', "Block red fox (web test)");
      await gov.click('[data-testid="propose"]');
      await gov.locator('[data-testid="tx-note"][data-n="1"]', { hasText: "Propose: done." }).waitFor();
      const proposal = gov.locator('[data-testid="proposal"]', { hasText: "Block red fox (web test)" });
      // Voting opens a block after the proposal's snapshot.
      await mineBlocks(rpc, 1);
      await gov.click('[data-testid="refresh"]');
      await proposal.locator('[data-testid="vote-for"]').waitFor();
      await proposal.locator('[data-testid="vote-for"]').click();
      await gov.locator('[data-testid="tx-note"][data-n="2"]', { hasText: "Vote for: done." }).waitFor();

      await gov.selectOption('[data-testid="account"]', m2!.address);
      await gov.locator('[data-testid="votes"]', { hasText: "1,000,000 MESH of voting power" }).waitFor();
      await proposal.locator('[data-testid="vote-for"]').click();
      await gov.locator('[data-testid="tx-note"][data-n="3"]', { hasText: "Vote for: done." }).waitFor();

      // Voting lasts a number of blocks: mine them rather than wait.
      const dao = (await gov.evaluate(() => fetch("api/dao").then((r) => r.json()))) as { governance: { votingPeriod: string } };
      const votingPeriod = BigInt(dao.governance.votingPeriod);
      await mineBlocks(rpc, votingPeriod + 1n);
      await gov.click('[data-testid="refresh"]');
      await proposal.locator('[data-testid="queue"]').click();
      await gov.locator('[data-testid="tx-note"][data-n="4"]', { hasText: "Queue: done." }).waitFor();
      await proposal.locator('[data-testid="execute"]').waitFor();
      // The timelock's delay is in seconds of chain time.
      await increaseTime(rpc, 3600);
      await proposal.locator('[data-testid="execute"]').click();
      await gov.locator('[data-testid="tx-note"][data-n="5"]', { hasText: "Execute: done." }).waitFor();
      await gov.locator('[data-testid="policy-version"]', { hasText: String(versionBefore + 1) }).waitFor();
      await shot(gov, "govern");
      rpc.destroy();

      const page = await open("create", net.dev.accounts.client.address);
      await page.fill('[data-testid="prompt"]', "a Red  Fox at dusk");
      await page.fill('[data-testid="seconds"]', "2");
      await page.click('[data-testid="quote"]');
      const refusal = page.locator('[data-testid="create-error"]');
      await refusal.waitFor();
      expect(await refusal.getAttribute("data-code")).toBe("POLICY_REFUSED");
      expect(await refusal.textContent()).toMatch(/red fox/i);
      expect(await page.locator('[data-testid="quote-box"]').count()).toBe(0);
      await shot(page, "refused");
      await Promise.all([gov, page].map((p) => p.close()));
    },
    LONG,
  );
});
