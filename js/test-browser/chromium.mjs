// chromium.mjs -- the headless Debian Chromium the browser tests drive (playwright-core): one set of launch
// options, so browser.mjs and opfs.mjs run the same browser. A persistent context in a fresh temporary profile,
// which closeChromium removes again.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Makes a profile folder named prefix + random letters in the temporary folder and launches Chromium on it
// (CHROMIUM names the executable; default /usr/bin/chromium). Returns { ctx, profile }. When the launch fails,
// the profile is removed and the error thrown.
export async function launchChromium(prefix) {
  const profile = mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    return { ctx, profile };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}

// Closes what launchChromium returned and removes its profile folder (nothing to do for undefined: the launch
// failed and cleaned up itself).
export async function closeChromium(browser) {
  if (!browser) return;
  try {
    await browser.ctx.close();
  } finally {
    rmSync(browser.profile, { recursive: true, force: true });
  }
}
