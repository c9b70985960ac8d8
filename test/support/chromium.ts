import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium (.ci/run installs it), or the one VPB_TEST_CHROMIUM names. */
export const CHROMIUM = process.env.VPB_TEST_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Headless Chromium for the tests, benches and scripts that drive a page. As root Chromium refuses
 * its sandbox: the pages are our own, served from loopback. A missing browser is an error that says
 * how to install it.
 */
export async function launchChromium(args: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), ...args],
  });
}
