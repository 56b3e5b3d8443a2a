import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import { REPO_ROOT } from "./process.js";

/** Debian's Chromium (`apt-get install chromium`), driven by playwright-core: no browser download. */
export const CHROMIUM = "/usr/bin/chromium";

/** Screenshots of the dashboard's screens, kept after the run (CI artifacts). */
export const SCREENSHOT_DIR = join(REPO_ROOT, "e2e", "artifacts", "dashboard");

/** Chrome's own line for an HTTP error answer to a fetch: the test provoked it, the page did not fail. */
const HTTP_ERROR_LINE = /^Failed to load resource: the server responded with a status of (4\d\d)/;

/**
 * A real headless Chromium with a fresh profile. Every console error and uncaught page error is
 * recorded; `expectedHttpErrors` lists the 4xx statuses a test provokes on purpose (Chrome logs each
 * refused request as a console error), anything else counts as a failure of the page.
 */
export class TestBrowser {
  readonly errors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    private readonly profile: string,
  ) {}

  static async launch(): Promise<TestBrowser> {
    const profile = mkdtempSync(join(tmpdir(), "riffle-chromium-"));
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      viewport: { width: 1400, height: 900 },
    });
    return new TestBrowser(context, profile);
  }

  /** A new tab that records its console errors (with the statuses it may see refused). */
  async page(expectedHttpErrors: number[] = []): Promise<Page> {
    const page = await this.context.newPage();
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const http = HTTP_ERROR_LINE.exec(msg.text());
      if (http && expectedHttpErrors.includes(Number(http[1]))) return;
      this.errors.push(`console: ${msg.text()} (${msg.location().url})`);
    });
    page.on("pageerror", (err) => this.errors.push(`page error: ${err.message}`));
    return page;
  }

  async screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}
