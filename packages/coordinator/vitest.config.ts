import { defineConfig } from "vitest/config";

// Runs this package's tests alone: `pnpm exec vitest run -c packages/coordinator/vitest.config.ts`.
// Workspace packages resolve to their sources through the `@rendermesh/source`
// condition; Vitest runs tests in Vite's SSR environment, which reads the
// conditions from `ssr.resolve`, so they are set there too.
const conditions = ["@rendermesh/source"];
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: { name: "coordinator", root: import.meta.dirname, include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
});
