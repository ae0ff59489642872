// The browser example in one command: `node examples/browser/server.mjs 0` writes the stream the page replays
// (here into a fresh directory, $DVW_VECTORS), prints the page's URL, and serves the page, its app.js (relative
// to the page's URL) and the data at that URL; / redirects to it. The page itself runs in js/test-browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jsRoot, haveTool } from './env.js';

const server = path.join(jsRoot, '../examples/browser/server.mjs');

/** Starts the server command; resolves with {child, url} once it printed the URL. */
function start(env) {
  const child = spawn(process.execPath, [server, '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      const m = out.match(/^(http:\/\/127\.0\.0\.1:\d+\/\S*)$/m);
      if (m) resolve({ child, url: m[1], out });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code} before printing its URL:\n${out}`)));
  });
}

test('the printed URL serves a working page, with data generated at start', { skip: !haveTool && 'no native tool (scripts/build-wasm.sh)' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dv-vectors-'));
  const { child, url, out } = await start({ DVW_VECTORS: dir });
  try {
    assert.match(url, /\/examples\/browser\/$/);
    assert.ok(existsSync(path.join(dir, 'native.dvs')) && existsSync(path.join(dir, 'native.json')), out);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    const html = await page.text();
    const script = html.match(/<script type="module" src="([^"]+)"/)[1];
    const app = await fetch(new URL(script, url)); // as the browser resolves it
    assert.equal(app.status, 200);
    assert.match(app.headers.get('content-type'), /javascript/);
    for (const p of ['/vectors/native.dvs', '/vectors/native.json', '/js/dist/deltavec.wasm', '/js/src/index.js']) {
      const r = await fetch(new URL(p, url));
      assert.equal(r.status, 200, p);
      await r.arrayBuffer();
    }
    const expected = await (await fetch(new URL('/vectors/native.json', url))).json();
    assert.ok(expected.deltas > 0 && typeof expected.final_hash === 'string');
    const root = await fetch(new URL('/?coi=0', url), { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/examples/browser/?coi=0');
    assert.equal((await fetch(new URL('/', url))).url, url); // followed: the page's own URL
    assert.equal((await fetch(new URL('/app.js', url))).status, 404); // only under the page's folder
    assert.equal((await fetch(new URL('/vectors/../../etc/passwd', url))).status, 404);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad port is a usage error', async () => {
  const child = spawn(process.execPath, [server, 'eighty'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => { err += b; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /usage/);
});
