// The browser tests: the demo app and the admin dashboard in Debian's chromium (never a
// Playwright browser download), against the `tollgate dev` at TOLLGATE_URL. A failing test
// keeps its screenshot in test-results/.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.TOLLGATE_URL,
    screenshot: "only-on-failure",
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--autoplay-policy=no-user-gesture-required"],
    },
  },
});
