import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The build goes into the Python package, where `modelyard server` serves it at `/`.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/modelyard/server/ui",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { "/api": "http://127.0.0.1:5050" } },
  test: { environment: "jsdom", include: ["src/**/*.test.ts"] },
});
