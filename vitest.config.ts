import { existsSync } from "node:fs";
import { defineConfig } from "vitest/config";

// Tests import workspace packages from source through the
// `@rendermesh/source` export condition, so no build is needed to test.
const resolve = { conditions: ["@rendermesh/source"] };

export default defineConfig({
  resolve,
  test: {
    projects: [
      ...["shared", "coordinator", "provider-node", "client"].map((name) => ({
        resolve,
        test: { name, root: `packages/${name}`, include: ["test/**/*.test.ts"], testTimeout: 60_000 },
      })),
      ...(existsSync("test")
        ? [{ resolve, test: { name: "e2e", root: "test", include: ["**/*.test.ts"], testTimeout: 300_000, hookTimeout: 300_000 } }]
        : []),
    ],
  },
});
