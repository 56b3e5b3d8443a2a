import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{shared,sdk,taskmanager,jobmanager,cli}/src/**/*.test.ts", "testing/*/src/**/*.test.ts", "e2e/**/*.test.ts", "examples/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
