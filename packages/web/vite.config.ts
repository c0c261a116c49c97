import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Static files an operator can host anywhere: relative asset paths, no server
// needed beyond one that serves files (the local node serves them in dev).
export default defineConfig({
  root: "src",
  base: "./",
  plugins: [react()],
  build: { outDir: "../dist/app", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1024 },
});
