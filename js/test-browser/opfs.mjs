// opfs.mjs -- the browser replica kept in OPFS (examples/browser/opfs.html) in headless Debian Chromium
// (playwright-core), against examples/browser/server.mjs, which logs every stream it serves with ?from:
//   1. first visit, the primary at sequence K (?upto=K, K near the middle): the page streams deltas 1..K and
//      saves its snapshot;
//   2. visit again, the primary at the end of the stream: the page opens the snapshot from OPFS and fetches
//      exactly the stream header + deltas K+1..N (bytes counted by the server and by the page, and compared
//      with the sizes of those deltas in the stream file); its state hash equals the native primary's;
//   3. a third visit with nothing new fetches only a stream header.
// Hashes are the native primary's (native.json: at checkpoint K and at the end). Exit status 1 on failure.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, hashHex } from '../src/index.js';
import { startServer } from '../../examples/browser/server.mjs';
import { launchChromium, closeChromium } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.DVW_BUILD || path.join(root, 'build-wasm');
process.env.DVW_VECTORS ||= path.join(build, 'vectors');
const expected = JSON.parse(readFileSync(path.join(process.env.DVW_VECTORS, 'native.json'), 'utf8'));

// The stream file as records; K: the native primary's checkpoint nearest the middle (its hash at K is in
// native.json), cross-checked with a Node replica of the same module applying deltas 1..K.
const dv = await load();
const { info, deltas } = dv.readStream(readFileSync(path.join(process.env.DVW_VECTORS, 'native.dvs')));
const N = deltas.length, HEADER = info.headerSize;
const mid = (expected.checkpoints || []).reduce((b, c) => (!b || Math.abs(c.seq - N / 2) < Math.abs(b.seq - N / 2) ? c : b), null);
if (!mid || mid.seq < 1 || mid.seq >= N) throw new Error('native.json has no checkpoint inside the stream');
const K = mid.seq, hashAtK = mid.hash;
const bytesOf = (a, b) => deltas.slice(a, b).reduce((s, d) => s + d.length, 0); // deltas [a, b) (0-based)
const ref = dv.openReplicaFromStream(info);
for (const d of deltas.slice(0, K)) ref.apply(d);
const nodeHashAtK = hashHex(ref.stateHash());
ref.close();

const server = await startServer(0);
const vectorRequests = [];
server.on('request', (req) => { if (req.url.startsWith('/vectors/')) vectorRequests.push(req.url); });
const base = `http://127.0.0.1:${server.address().port}/examples/browser/opfs.html`;
let browser, failed = false;
const check = (cond, what) => { if (!cond) { console.error(`opfs test: FAILED: ${what}`); failed = true; } };

async function visit(page, url) {
  const served = server.streamLog.length, requested = vectorRequests.length;
  await page.goto(url);
  await page.waitForFunction(() => window.__deltavec && window.__deltavec.done, null, { timeout: 90000 });
  const s = await page.evaluate(() => window.__deltavec);
  console.log(JSON.stringify(s));
  check(!s.error, `page error ${s.error}`);
  return { s, served: server.streamLog.slice(served), requested: vectorRequests.slice(requested) };
}

try {
  browser = await launchChromium('dv-chromium-opfs-');
  const { ctx } = browser;
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => console.log(`[page error] ${e}`));
  check(N > 4 && N === expected.deltas, `stream of ${N} deltas (native.json: ${expected.deltas})`);
  check(nodeHashAtK === hashAtK, `Node replica at ${K}: ${nodeHashAtK}, native primary ${hashAtK}`);

  // 1. nothing saved: deltas 1..K
  const a = await visit(page, `${base}?upto=${K}`);
  check(!a.s.restored && a.s.from === 1 && a.s.applied === K && a.s.position === K, `first visit: ${JSON.stringify(a.s)}`);
  check(a.s.hash === hashAtK, `hash at ${K}: page ${a.s.hash}, native primary ${hashAtK}`);
  check(a.served.length === 1 && a.served[0].from === 1 && a.served[0].upto === K, `first visit served ${JSON.stringify(a.served)}`);
  check(a.s.fetchedBytes === HEADER + bytesOf(0, K) && a.served[0]?.bytes === a.s.fetchedBytes,
    `first visit: page got ${a.s.fetchedBytes} bytes, server sent ${a.served[0]?.bytes}, deltas 1..${K} are ${HEADER} + ${bytesOf(0, K)}`);
  check(a.s.saved && a.s.saved.sequence === K, `first visit saved ${JSON.stringify(a.s.saved)}`);

  // 2. reload with the primary at N: the snapshot from OPFS, then deltas K+1..N only
  const b = await visit(page, base);
  check(b.s.restored && b.s.restored.sequence === K && b.s.restored.hash === hashAtK, `restored ${JSON.stringify(b.s.restored)}`);
  check(b.s.from === K + 1 && b.s.applied === N - K && b.s.position === N, `second visit: ${JSON.stringify(b.s)}`);
  check(b.requested.length === 1 && b.requested[0] === `/vectors/native.dvs?from=${K + 1}`, `second visit requested ${JSON.stringify(b.requested)}`);
  const newBytes = HEADER + bytesOf(K, N);
  check(b.served.length === 1 && b.served[0].bytes === newBytes && b.s.fetchedBytes === newBytes,
    `second visit: page got ${b.s.fetchedBytes} bytes, server sent ${b.served[0]?.bytes}, new deltas are ${newBytes}`);
  check(b.s.hash === expected.final_hash, `hash after reload ${b.s.hash} != native primary ${expected.final_hash}`);
  console.log(`opfs test: after reload fetched ${b.s.fetchedBytes} bytes (header + ${N - K} new deltas) ` +
    `instead of ${HEADER + bytesOf(0, N)} for the whole stream; snapshot ${b.s.restored.bytes} bytes from OPFS`);

  // 3. nothing new: a stream header and no delta
  const c = await visit(page, base);
  check(c.s.restored && c.s.restored.sequence === N && c.s.applied === 0 && c.s.fetchedBytes === HEADER &&
    c.s.hash === expected.final_hash, `third visit: ${JSON.stringify(c.s)}`);
} finally {
  await closeChromium(browser);
  server.close();
}
if (failed) process.exit(1);
console.log('opfs test: OK (after a reload only the new deltas are fetched; replica hash == native primary hash)');
