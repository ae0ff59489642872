// browser.mjs -- a Chromium replica for the cross-language replication test (tests/test_transport_replicas.c):
// serves examples/browser/nats.html, which follows DV_DB over WebSocket (DV_NATS_WS_URL) with followNats
// until DV_TARGET, then prints the same JSON line as follow.mjs ({position, hash, top10}); DV_EXPECT_BOOTSTRAP=1
// as there.
// Needs /usr/bin/chromium (or CHROMIUM), playwright-core and js/dist/nats-browser.js (npm run build:nats).
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../../examples/browser/server.mjs';

const env = process.env;
const server = await startServer(0);
const qs = new URLSearchParams({ ws: env.DV_NATS_WS_URL, db: env.DV_DB, user: env.DV_NATS_USER || '',
  pass: env.DV_NATS_PASS || '', target: env.DV_TARGET });
const url = `http://127.0.0.1:${server.address().port}/examples/browser/nats.html?${qs}`;
const profile = mkdtempSync(path.join(os.tmpdir(), 'dv-chromium-nats-'));
let ctx, code = 0;
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__dvnats && window.__dvnats.done, null, { timeout: 300000 });
  const s = await page.evaluate(() => ({ error: window.__dvnats.error, position: window.__dvnats.position,
    hash: window.__dvnats.hash, bootstraps: window.__dvnats.bootstraps }));
  if (!s.error && env.DV_EXPECT_BOOTSTRAP && s.bootstraps !== Number(env.DV_EXPECT_BOOTSTRAP)) {
    s.error = `${s.bootstraps} bootstraps from the snapshot`;
  }
  if (s.error) {
    console.log(JSON.stringify({ error: s.error }));
    code = 1;
  } else {
    const queries = JSON.parse(readFileSync(env.DV_QUERIES, 'utf8'));
    const top10 = await page.evaluate((q) => window.__dvnats.search(q), queries);
    console.log(JSON.stringify({ position: s.position, hash: s.hash, top10 }));
    await page.evaluate(() => window.__dvnats.follower.stop());
  }
} finally {
  if (ctx) await ctx.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
