import { defineConfig } from "vite";

/**
 * The dashboard builds into dist/ (index.html and content-hashed assets under assets/), which the
 * JobManager serves at / on its REST port. Everything is bundled: the page loads nothing from the
 * network but its own JobManager.
 */
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false, reportCompressedSize: false },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  // `npm run dev -w @riffle/dashboard` against a JobManager on 8081.
  server: { proxy: { "^/(config|overview|jobs|taskmanagers|jobmanager|openapi.json)": "http://127.0.0.1:8081" } },
});
