// server.mjs -- the browser example in one command: `node examples/browser/server.mjs [port]`.
// Started as a command it first makes sure the page has what it needs -- the wasm modules and the native
// tool (scripts/build-wasm.sh builds them if they are missing) and the delta stream the page replays,
// written now by the native tool (`dvw_vectors gen` into build-wasm/vectors/, or $DVW_VECTORS) -- then serves
// on 127.0.0.1 only and prints the page's URL (port 0: any free port).
// Sends COOP/COEP (cross-origin isolation, so SharedArrayBuffer and the worker pool work) and serves only:
// /examples/browser/* (/ redirects there), /js/src/*, /js/dist/* and /vectors/*.
// A page requested with ?coi=0 is served without COOP/COEP (not isolated: the fallback path).
// A stream file (*.dvs) requested with ?from=N[&upto=M] is served from sequence N on (see streamFrom).
// Tests import startServer (no build, no generation: scripts/test-js.sh has done both).
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PAGE = '/examples/browser/';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Read when the server starts (not at import), so a caller may set DVW_BUILD / DVW_VECTORS first.
const buildDir = () => process.env.DVW_BUILD || path.join(root, 'build-wasm');
const vectorsDir = () => process.env.DVW_VECTORS || path.join(buildDir(), 'vectors');
const mountsNow = () => [
  ['/examples/browser/', path.join(root, 'examples/browser')],
  ['/js/src/', path.join(root, 'js/src')],
  ['/js/dist/', path.join(root, 'js/dist')],
  ['/vectors/', vectorsDir()],
];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.css': 'text/css', '.dvs': 'application/octet-stream', '.maxpages': 'text/plain' };

// ?from=N[&upto=M] on a stream file: the same stream starting at sequence N (a new stream header whose
// first_sequence is N, then the file's records N..M), so a replica restored from a snapshot at
// sequence N - 1 fetches only the deltas after it (examples/browser/opfs.html). upto stands for how far the
// primary has got (default: the whole file). The file is parsed once (by the wasm module's stream reader) per
// modification time.
let dvModule = null;
const parsedStreams = new Map();
async function streamFrom(file, from, upto) {
  dvModule ||= import('../../js/src/index.js').then((m) => m.load());
  const dv = await dvModule;
  const key = `${file}:${(await stat(file)).mtimeMs}`;
  if (!parsedStreams.has(key)) parsedStreams.set(key, dv.readStream(await readFile(file)));
  const { info, deltas } = parsedStreams.get(key);
  const seq = (d) => new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, true);
  const picked = deltas.filter((d) => seq(d) >= from && (upto === null || seq(d) <= upto));
  return dv.writeStream(info, picked, { firstSequence: from > info.firstSequence ? from : info.firstSequence });
}

export function startServer(port = 0) {
  const mounts = mountsNow();
  const streamLog = []; // one {path, from, upto, bytes} per stream served with ?from (read by js/test-browser/opfs.mjs)
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let p;
    try { p = decodeURIComponent(url.pathname); } catch { res.writeHead(400); res.end('bad path'); return; }
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-store' };
    // the page loads ./app.js relative to its own URL: it must be served from its folder, never from /
    if (p === '/' || p === PAGE.slice(0, -1)) {
      res.writeHead(302, { ...headers, Location: PAGE + url.search });
      res.end();
      return;
    }
    if (p.endsWith('/')) p += 'index.html';
    const m = mounts.find(([prefix]) => p.startsWith(prefix));
    const file = m && path.resolve(m[1], '.' + p.slice(m[0].length - 1));
    // ?coi=0 on a page: serve it WITHOUT cross-origin isolation (to check the one-thread fallback)
    if (url.searchParams.get('coi') === '0') {
      delete headers['Cross-Origin-Opener-Policy'];
      delete headers['Cross-Origin-Embedder-Policy'];
    }
    if (!file || !file.startsWith(m[1])) { res.writeHead(404, headers); res.end('not found'); return; }
    const from = url.searchParams.get('from');
    if (from !== null && file.endsWith('.dvs')) {
      try {
        if (!/^[1-9][0-9]*$/.test(from)) throw new Error('from: a sequence >= 1');
        const upto = url.searchParams.get('upto');
        if (upto !== null && !/^[0-9]+$/.test(upto)) throw new Error('upto: a sequence');
        const body = await streamFrom(file, BigInt(from), upto === null ? null : BigInt(upto));
        streamLog.push({ path: p, from: Number(from), upto: upto === null ? null : Number(upto), bytes: body.length });
        res.writeHead(200, { ...headers, 'Content-Type': types['.dvs'] });
        res.end(body);
      } catch (e) {
        res.writeHead(e.code === 'ENOENT' ? 404 : 400, headers);
        res.end(String(e.message || e));
      }
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end('not found');
    }
  });
  server.streamLog = streamLog;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/** The wasm modules, the native tool and a fresh stream for the page (see the header). */
export function prepare() {
  const build = buildDir(), tool = path.join(build, 'dvw_vectors');
  if (!existsSync(path.join(root, 'js/dist/deltavec.wasm')) || !existsSync(tool)) {
    console.log('server: the wasm modules or the native tool are missing: running scripts/build-wasm.sh');
    execFileSync(path.join(root, 'scripts/build-wasm.sh'), { stdio: 'inherit', env: { ...process.env, DV_WASM_OUT: build } });
  }
  const dir = vectorsDir();
  mkdirSync(dir, { recursive: true });
  const out = execFileSync(tool, ['gen', path.join(dir, 'native.dvs'), path.join(dir, 'native.json')], { encoding: 'utf8' });
  console.log(`server: ${dir}/native.dvs written by the native tool (${out.trim()})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`usage: node examples/browser/server.mjs [port]   (got port "${process.argv[2]}")`);
    process.exit(2);
  }
  prepare();
  const s = await startServer(port);
  console.log(`http://127.0.0.1:${s.address().port}${PAGE}`);
}
