// overhead.mjs -- call overhead of the deltavec component (jco-transpiled, canonical ABI)
// against the npm package, which calls the dvw_* exports of the same core directly
// (js/src/index.js): insert, search (k = 10) and apply of a sparse-update delta.
//
//   node wit/bench/overhead.mjs [--quick]     (after scripts/build-component.sh)
//
// Both sides run the same C code on the same data; what differs is the binding: the
// component lifts/lowers through jco's generated glue and wasm/component/*.c, the npm
// package writes into a scratch area and calls dvw_*. Each figure is the median over
// rounds of the mean ns per call; the ratio is component / npm (the bar: <= 1.2).
// Prints a table and one JSON line.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { load } from '../../js/src/index.js';

const quick = process.argv.includes('--quick');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = process.env.DV_COMPONENT_OUT || path.join(repo, 'build/component');
const C = await import(pathToFileURL(path.join(outDir, 'js/deltavec.js')).href);
const npm = await load({ simd: true });

const DIM = 64, N = quick ? 1000 : 4000, Q = quick ? 1000 : 5000, SPARSE = quick ? 3000 : 20000, ROUNDS = quick ? 3 : 5;
const cfg = { ...C.vectorDb.Database.defaultConfig(DIM), m: 16, efConstruction: 100, efSearch: 50 };
const npmCfg = { dim: DIM, metric: 'l2', M: 16, efConstruction: 100, efSearch: 50, seed: 42 };

let seed = 12345;
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296 - 0.5; };
const vecs = Array.from({ length: N }, () => Float32Array.from({ length: DIM }, rnd));
const queries = Array.from({ length: Q }, () => Float32Array.from({ length: DIM }, rnd));
const ids = vecs.map((_, i) => `vec-${i}`);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
function time(fn, calls) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / calls;
}

// The deltas: N inserts then SPARSE sparse updates (3 dims each), captured once by the component.
const primary = C.vectorDb.Database.open(cfg);
const cap = C.deltaCapture.Capture.open(primary, C.deltaCapture.Capture.defaultConfig());
cap.start();
const records = [], encoded = [];
const drain = () => {
  for (const h of cap.poll(4096)) {
    records.push({ header: h, payload: cap.payload(h.sequence) });
    encoded.push(cap.encoded(h.sequence));
    cap.release(h.sequence);
  }
};
vecs.forEach((v, i) => { primary.insert(ids[i], v, []); if (i % 1000 === 999) drain(); });
drain();
for (let i = 0; i < SPARSE; i++) {
  const d = (i * 7) % (DIM - 3);
  primary.updateSparse(ids[(i * 31) % N], Uint32Array.of(d, d + 1, d + 2), Float32Array.of(rnd(), rnd(), rnd()));
  if (i % 1000 === 999) drain();
}
drain();
cap[Symbol.dispose]();
const sparseBytes = records.slice(N).reduce((s, r) => s + 64 + r.payload.length, 0) / SPARSE;

const rows = [];
function measure(name, compFn, npmFn, calls) {
  const c = [], n = [];
  for (let r = 0; r < ROUNDS; r++) { n.push(npmFn(calls)); c.push(compFn(calls)); }
  const cm = median(c), nm = median(n);
  rows.push({ op: name, component_ns: Math.round(cm), npm_ns: Math.round(nm), ratio: +(cm / nm).toFixed(3) });
}

measure('insert', (calls) => {
  const db = C.vectorDb.Database.open(cfg);
  const t = time(() => { for (let i = 0; i < calls; i++) db.insert(ids[i], vecs[i], []); }, calls);
  db[Symbol.dispose]();
  return t;
}, (calls) => {
  const db = npm.openDb(npmCfg);
  const t = time(() => { for (let i = 0; i < calls; i++) db.insert(ids[i], vecs[i]); }, calls);
  db.close();
  return t;
}, N);

const cdb = C.vectorDb.Database.open(cfg), ndb = npm.openDb(npmCfg);
vecs.forEach((v, i) => { cdb.insert(ids[i], v, []); ndb.insert(ids[i], v); });
measure('search k=10', (calls) => time(() => { for (let i = 0; i < calls; i++) cdb.search(queries[i], 10, 0); }, calls),
  (calls) => time(() => { for (let i = 0; i < calls; i++) ndb.search(queries[i], 10); }, calls), Q);

function applySparse(kind) {
  return (calls) => {
    if (kind === 'npm') {
      const r = npm.openReplica(npmCfg);
      for (let i = 0; i < N; i++) r.apply(encoded[i]);
      const t = time(() => { for (let i = N; i < N + calls; i++) r.apply(encoded[i]); }, calls);
      r.close();
      return t;
    }
    const db = C.vectorDb.Database.open(cfg);
    const ap = C.deltaApply.Applier.open(db, C.deltaApply.Applier.defaultConfig());
    for (let i = 0; i < N; i++) ap.apply(records[i]);
    const t = kind === 'record'
      ? time(() => { for (let i = N; i < N + calls; i++) ap.apply(records[i]); }, calls)
      : time(() => { for (let i = N; i < N + calls; i++) ap.applyEncoded(encoded[i]); }, calls);
    ap[Symbol.dispose]();
    db[Symbol.dispose]();
    return t;
  };
}
measure('apply sparse (record)', applySparse('record'), applySparse('npm'), SPARSE);
measure('apply sparse (bytes)', applySparse('bytes'), applySparse('npm'), SPARSE);

// The same deltas in batches of 64 (apply-batch / Replica.applyBatch): per delta.
function applyBatches(kind) {
  return (calls) => {
    const B = 64;
    if (kind === 'npm') {
      const r = npm.openReplica(npmCfg);
      for (let i = 0; i < N; i++) r.apply(encoded[i]);
      const t = time(() => { for (let i = N; i < N + calls; i += B) r.applyBatch(encoded.slice(i, Math.min(i + B, N + calls))); }, calls);
      r.close();
      return t;
    }
    const db = C.vectorDb.Database.open(cfg);
    const ap = C.deltaApply.Applier.open(db, C.deltaApply.Applier.defaultConfig());
    for (let i = 0; i < N; i++) ap.apply(records[i]);
    const t = time(() => { for (let i = N; i < N + calls; i += B) ap.applyBatch(records.slice(i, Math.min(i + B, N + calls))); }, calls);
    ap[Symbol.dispose]();
    db[Symbol.dispose]();
    return t;
  };
}
measure('apply sparse (batch 64)', applyBatches('component'), applyBatches('npm'), SPARSE);

// A call that does almost nothing: the binding's fixed cost.
measure('count (fixed cost)', (calls) => time(() => { for (let i = 0; i < calls; i++) cdb.count(); }, calls),
  (calls) => time(() => { for (let i = 0; i < calls; i++) void ndb.count; }, calls), 100000);

const w = ['op', 'component_ns', 'npm_ns', 'ratio'];
const lines = [w, ...rows.map((r) => w.map((k) => String(r[k])))];
const width = w.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
for (const l of lines) console.log(l.map((c, i) => c.padStart(width[i])).join('  '));
console.log(`dim ${DIM}, ${N} vectors, ${Q} queries, ${SPARSE} sparse deltas (mean ${sparseBytes.toFixed(1)} bytes with header), median of ${ROUNDS} rounds`);
console.log(JSON.stringify({ bench: 'component-overhead', dim: DIM, n: N, rows }));
