// browser.mjs -- loads examples/browser/ in headless Debian Chromium (playwright-core), waits until the
// page has read the native stream (its header: the replicas' config; then its records, as they arrive) and
// applied it, and checks its state hash against the native primary's.
// Also checks the parallel replica (4 worker loops + dispatcher worker; every delta pushed through the feed
// ring in shared memory as it arrives) in the isolated page, and the
// one-thread fallback in the same page served without COOP/COEP (?coi=0).
// Writes screenshots to build-wasm/browser.png and build-wasm/browser-fallback.png. Exit status 1 on failure.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, PAGE } from '../../examples/browser/server.mjs';
import { launchChromium, closeChromium } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.DVW_BUILD || path.join(root, 'build-wasm');
process.env.DVW_VECTORS ||= path.join(build, 'vectors');
const expected = JSON.parse(readFileSync(path.join(build, 'vectors/native.json'), 'utf8'));
const server = await startServer(0);
const url = `http://127.0.0.1:${server.address().port}${PAGE}`; // the URL the server command prints
let browser, failed = false;
try {
  browser = await launchChromium('dv-chromium-');
  const { ctx } = browser;
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => console.log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`[page error] ${e}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__deltavec && window.__deltavec.done, null, { timeout: 90000 });
  const s = await page.evaluate(() => window.__deltavec);
  const isolated = await page.evaluate(() => crossOriginIsolated);
  await page.screenshot({ path: path.join(build, 'browser.png'), fullPage: true });
  console.log(JSON.stringify({ ...s, crossOriginIsolated: isolated }));
  const check = (cond, what) => { if (!cond) { console.error(`browser test: FAILED: ${what}`); failed = true; } };
  // The replicas were created from the stream header: the native primary's config.
  const i = s.info || {};
  check(i.dim === expected.dim && i.M === expected.M && i.efConstruction === expected.efConstruction &&
    i.seed === String(expected.seed) && i.metric === ['l2', 'ip', 'cosine'][expected.metric] && i.mode === 'structural',
  `stream header config ${JSON.stringify(i)}`);
  check(s.streamBytes === expected.stream_bytes, `stream read to its end: ${s.streamBytes} of ${expected.stream_bytes} bytes`);
  // The parallel replica: 4 worker loops + a dispatcher Web Worker over one shared memory.
  const p = s.parallel || {};
  check(p.parallel === true && p.shared === true && p.workers === 4, `parallel replica not parallel: ${JSON.stringify(p)}`);
  check(p.hash === expected.final_hash, `parallel replica hash ${p.hash} != native ${expected.final_hash} (${p.error})`);
  check(p.position === expected.deltas, `parallel replica position ${p.position} != ${expected.deltas}`);
  check(p.stats && p.stats.parallelDeltas > 0, 'no delta went through the parallel path');
  check(p.pushed === expected.deltas, `every delta should be pushed through the feed ring (${p.pushed})`);

  // The same page without cross-origin isolation: no SharedArrayBuffer, the parallel replica says so and
  // runs on one thread, to the same hash.
  await page.goto(`${url}?coi=0`);
  await page.waitForFunction(() => window.__deltavec && window.__deltavec.done, null, { timeout: 90000 });
  const f = await page.evaluate(() => window.__deltavec);
  const fIsolated = await page.evaluate(() => crossOriginIsolated);
  await page.screenshot({ path: path.join(build, 'browser-fallback.png'), fullPage: true });
  const fp = f.parallel || {};
  console.log(JSON.stringify({ fallback: fp, crossOriginIsolated: fIsolated }));
  check(!fIsolated, 'the ?coi=0 page is cross-origin isolated');
  check(!f.error, `fallback page error ${f.error}`);
  check(fp.parallel === false && fp.shared === false && /SharedArrayBuffer/.test(fp.reason || ''), `fallback not reported: ${JSON.stringify(fp)}`);
  check(fp.hash === expected.final_hash, `fallback replica hash ${fp.hash} != native ${expected.final_hash}`);
  check(!s.error, `page error ${s.error}`);
  check(s.hash === expected.final_hash, `hash ${s.hash} != native ${expected.final_hash}`);
  check(s.position === expected.deltas, `position ${s.position} != ${expected.deltas}`);
  check(isolated, 'page is not cross-origin isolated (COOP/COEP)');
  check(s.pool && s.pool.ok && s.pool.threads === 2, `worker pool in the page: ${JSON.stringify(s.pool)}`);
} finally {
  await closeChromium(browser);
  server.close();
}
if (failed) process.exit(1);
console.log('browser test: OK (replica hash == native primary hash in headless Chromium)');
