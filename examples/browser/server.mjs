// server.mjs -- a tiny static server for the browser example, on 127.0.0.1 only.
// Sends COOP/COEP (cross-origin isolation, so SharedArrayBuffer and the worker
// pool work) and serves only: /examples/browser/*, /js/src/*, /js/dist/* and
// /vectors/* (the native tool's test vectors, from build-wasm/vectors/).
// A page requested with ?coi=0 is served without COOP/COEP (not isolated: the fallback path).
// Usage: node examples/browser/server.mjs [port]   (port 0: any free port; prints the URL)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
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

export function startServer(port = 0) {
  const mounts = mountsNow();
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
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startServer(Number(process.argv[2] || 8080));
  console.log(`http://127.0.0.1:${s.address().port}/`);
}
