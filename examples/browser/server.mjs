// server.mjs -- a tiny static server for the browser example, on 127.0.0.1 only.
// Sends COOP/COEP (cross-origin isolation, so SharedArrayBuffer and the worker
// pool work) and serves only: /examples/browser/*, /js/src/*, /js/dist/* and
// /vectors/* (the native tool's test vectors, from build-wasm/vectors/).
// A page requested with ?coi=0 is served without COOP/COEP (not isolated: the fallback path).
// A stream file (*.dvs) requested with ?from=N[&upto=M] is served from sequence N on (see streamFrom).
// Usage: node examples/browser/server.mjs [port]   (port 0: any free port; prints the URL)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Read when the server starts (not at import), so a caller may set DVW_VECTORS first.
const mountsNow = () => [
  ['/examples/browser/', path.join(root, 'examples/browser')],
  ['/js/src/', path.join(root, 'js/src')],
  ['/js/dist/', path.join(root, 'js/dist')],
  ['/vectors/', process.env.DVW_VECTORS || path.join(root, 'build-wasm/vectors')],
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
    let p = decodeURIComponent(url.pathname);
    if (p === '/') p = '/examples/browser/index.html';
    const m = mounts.find(([prefix]) => p.startsWith(prefix));
    const file = m && path.resolve(m[1], '.' + p.slice(m[0].length - 1));
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-store' };
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startServer(Number(process.argv[2] || 8080));
  console.log(`http://127.0.0.1:${s.address().port}/`);
}
