import { existsSync } from "node:fs";
import { defineConfig } from "vitest/config";

// Tests import workspace packages from source through the
// `@rendermesh/source` export condition, so no build is needed to test.
// Vitest runs tests in Vite's SSR environment, which reads its conditions
// from `ssr.resolve`; Vite's defaults are kept after ours.
const conditions = ["@rendermesh/source", "module", "node", "development|production"];
const resolve = { conditions };
const ssr = { resolve: { conditions, externalConditions: ["@rendermesh/source"] } };

export default defineConfig({
  resolve,
  ssr,
  test: {
    projects: [
      ...["shared", "coordinator", "provider-node", "client", "testing", "arbiter"].map((name) => ({
        resolve,
        ssr,
        test: { name, root: `packages/${name}`, include: ["test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 },
      })),
      {
        resolve,
        ssr,
        // The browser tests start a whole network and Chromium.
        test: {
          name: "web",
          root: "packages/web",
          include: ["test/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          // After the other projects, never beside the e2e project's networks (2 cores).
          sequence: { groupOrder: 1 },
        },
      },
      ...(existsSync("test")
        ? [
            {
              resolve,
              ssr,
              test: {
                name: "e2e",
                root: "test",
                include: ["**/*.test.ts"],
                testTimeout: 600_000,
                hookTimeout: 600_000,
                // Each file starts a whole network; two at once would starve 2 cores.
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
