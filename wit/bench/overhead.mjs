// overhead.mjs -- call overhead of the deltavec component (jco-transpiled, canonical ABI)
// against the npm package, which calls the dvw_* exports of the same core directly
// (js/src/index.js): insert, search (k = 10) and apply of a sparse-update delta.
//
//   node wit/bench/overhead.mjs [--quick]     (after scripts/build-component.sh)
//
// Both sides run the same C code on the same data; what differs is the binding: the
// component lifts/lowers through jco's generated glue and wasm/component/*.c, the npm
// package writes into a scratch area and calls dvw_*. Calls run in chunks, a component
// chunk and the same npm chunk back to back (see measure()); each figure is the median of
// the chunks' CPU ns per call, the ratio component / npm the median of the chunks' ratios
// (the bar: <= 1.2).
// The bytes columns are what one call copies across the boundary, mean over the calls
// measured, counted from the data by the rules of each binding (see copied() below):
// `in` is written into the instance's memory, `out` is read from it.
// Prints a table and the goals; writes bench/results/component_overhead.json
// (--quick: component_overhead-quick.json, git-ignored). DV_BENCH_RAW=1 prints every chunk.
import path from 'node:path';
import os from 'node:os';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { load } from '../../js/src/index.js';

const quick = process.argv.includes('--quick');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = process.env.DV_COMPONENT_OUT || path.join(repo, 'build/component');
const C = await import(pathToFileURL(path.join(outDir, 'js/deltavec.js')).href);
const npm = await load({ simd: true });

const DIM = 64, N = quick ? 1000 : 4000, Q = quick ? 1000 : 5000, SPARSE = quick ? 3000 : 20000, ROUNDS = quick ? 1 : 3;
const cfg = { ...C.vectorDb.Database.defaultConfig(DIM), m: 16, efConstruction: 100, efSearch: 50 };
const npmCfg = { dim: DIM, metric: 'l2', M: 16, efConstruction: 100, efSearch: 50, seed: 42 };

let seed = 12345;
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296 - 0.5; };
const vecs = Array.from({ length: N }, () => Float32Array.from({ length: DIM }, rnd));
const queries = Array.from({ length: Q }, () => Float32Array.from({ length: DIM }, rnd));
const ids = vecs.map((_, i) => `vec-${i}`);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
// CPU time of the process (user + system), not wall time: on a shared, loaded machine the
// wall time of a round mostly measures how long the process waited for a core.
function time(fn, calls) {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / calls;
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

// Bytes one call copies, per binding. Component (canonical ABI through jco): strings and
// lists are written into cabi_realloc'd memory (UTF-8 ids, 4 bytes per f32); results are
// read from the adapter's return area (a result's discriminant is 1 byte, a list 8 bytes
// of pointer + length, an enum 1 byte); a delta-header record of `apply` is passed as 15
// flat arguments, not through memory. npm (dvw_*): the same data goes into its scratch
// area with a NUL after each id; statuses come back as the return value; ids of hits are
// read as C strings (bytes + NUL).
const utf8 = (s) => Buffer.byteLength(s, 'utf8');
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sparsePayload = mean(records.slice(N).map((r) => r.payload.length));
const copied = {
  insert: () => {
    const id = mean(ids.map(utf8));
    return { c_in: id + 4 * DIM, c_out: 1, n_in: id + 1 + 4 * DIM, n_out: 0 };
  },
  search: (hits) => {
    const n = mean(hits.map((h) => h.length)), idb = mean(hits.map((h) => h.reduce((s, x) => s + utf8(x.id), 0)));
    // component: discriminant + list (ptr, len), then per hit: id (ptr, len), distance, slot, the id's bytes;
    // npm: the hit count, then per hit: id pointer and distance, the id's bytes + NUL.
    return { c_in: 4 * DIM, c_out: 9 + 16 * n + idb, n_in: 4 * DIM, n_out: 4 + 8 * n + idb + n };
  },
  applyRecord: () => ({ c_in: sparsePayload, c_out: 2, n_in: 64 + sparsePayload, n_out: 0 }),
  applyBytes: () => ({ c_in: 64 + sparsePayload, c_out: 2, n_in: 64 + sparsePayload, n_out: 0 }),
  // per delta of a batch of B: component list<delta> elements are 72 bytes (header record + payload ptr, len),
  // each result 16 bytes (+ 13 bytes of batch-result per call); npm: the bytes, a pointer and a length in,
  // one status out.
  applyBatch: (B) => ({ c_in: 72 + sparsePayload, c_out: 16 + 13 / B, n_in: 64 + sparsePayload + 8, n_out: 4 + 4 / B }),
  count: () => ({ c_in: 0, c_out: 0, n_in: 0, n_out: 0 }),
};

const rows = [];
// One round: fresh state on both sides (setup), then the calls in chunks, the component's
// and npm's chunk k back to back (which goes first alternates), each timed on its own.
// Pairing chunks cancels most of the load swings of a shared machine; the ratio is the
// median of the chunks' ratios, the ns figures the medians of the chunks' ns per call.
function measure(name, { setup, comp, npm: npmChunk, teardown }, total, chunk, bytes) {
  const c = [], n = [];
  chunk = Math.ceil(chunk);
  for (let r = 0; r < ROUNDS; r++) {
    const st = setup();
    for (let i0 = 0, k = 0; i0 < total; i0 += chunk, k++) {
      const i1 = Math.min(i0 + chunk, total);
      const tc = () => c.push(time(() => comp(st, i0, i1), i1 - i0));
      const tn = () => n.push(time(() => npmChunk(st, i0, i1), i1 - i0));
      if (k & 1) { tc(); tn(); } else { tn(); tc(); }
    }
    teardown?.(st);
  }
  if (process.env.DV_BENCH_RAW) console.error(name, c.map(Math.round).join(' '), '|', n.map(Math.round).join(' '));
  const cm = median(c), nm = median(n), ratio = median(c.map((x, i) => x / n[i]));
  const b = Object.fromEntries(Object.entries(bytes).map(([k, v]) => [k, +v.toFixed(1)]));
  rows.push({ op: name, component_ns: Math.round(cm), npm_ns: Math.round(nm), ratio: +ratio.toFixed(3), ...b });
}

measure('insert', {
  setup: () => ({ c: C.vectorDb.Database.open(cfg), n: npm.openDb(npmCfg) }),
  comp: (st, i0, i1) => { for (let i = i0; i < i1; i++) st.c.insert(ids[i], vecs[i], []); },
  npm: (st, i0, i1) => { for (let i = i0; i < i1; i++) st.n.insert(ids[i], vecs[i]); },
  teardown: (st) => { st.c[Symbol.dispose](); st.n.close(); },
}, N, N / 16, copied.insert());

const cdb = C.vectorDb.Database.open(cfg), ndb = npm.openDb(npmCfg);
vecs.forEach((v, i) => { cdb.insert(ids[i], v, []); ndb.insert(ids[i], v); });
measure('search k=10', {
  setup: () => null,
  comp: (_, i0, i1) => { for (let i = i0; i < i1; i++) cdb.search(queries[i], 10, 0); },
  npm: (_, i0, i1) => { for (let i = i0; i < i1; i++) ndb.search(queries[i], 10); },
}, Q, Q / 20, copied.search(queries.map((q) => cdb.search(q, 10, 0))));

// Replicas that hold the N inserts; the measured calls apply the sparse deltas after them.
function replicas() {
  const db = C.vectorDb.Database.open(cfg);
  const ap = C.deltaApply.Applier.open(db, C.deltaApply.Applier.defaultConfig());
  const r = npm.openReplica(npmCfg);
  for (let i = 0; i < N; i++) { ap.apply(records[i]); r.apply(encoded[i]); }
  return { db, ap, r };
}
function closeReplicas(st) { st.ap[Symbol.dispose](); st.db[Symbol.dispose](); st.r.close(); }
const npmApply = (st, i0, i1) => { for (let i = N + i0; i < N + i1; i++) st.r.apply(encoded[i]); };
measure('apply sparse (record)', {
  setup: replicas, teardown: closeReplicas, npm: npmApply,
  comp: (st, i0, i1) => { for (let i = N + i0; i < N + i1; i++) st.ap.apply(records[i]); },
}, SPARSE, SPARSE / 20, copied.applyRecord());
measure('apply sparse (bytes)', {
  setup: replicas, teardown: closeReplicas, npm: npmApply,
  comp: (st, i0, i1) => { for (let i = N + i0; i < N + i1; i++) st.ap.applyEncoded(encoded[i]); },
}, SPARSE, SPARSE / 20, copied.applyBytes());

// A delta both replicas already hold: each call validates it (header, checksum) and answers
// `duplicate` -- the same short C path on both sides, so the difference is the binding.
const dup = encoded[N];
measure('apply duplicate (bytes)', {
  setup: () => { const st = replicas(); st.ap.applyEncoded(dup); st.r.apply(dup); return st; }, teardown: closeReplicas,
  comp: (st, i0, i1) => { for (let i = i0; i < i1; i++) st.ap.applyEncoded(dup); },
  npm: (st, i0, i1) => { for (let i = i0; i < i1; i++) st.r.apply(dup); },
}, SPARSE * 5, SPARSE / 4, { c_in: dup.length, c_out: 2, n_in: dup.length, n_out: 0 });

// The same deltas in batches of 64 (apply-batch / Replica.applyBatch): per delta.
const B = 64;
measure('apply sparse (batch 64)', {
  setup: replicas, teardown: closeReplicas,
  comp: (st, i0, i1) => { for (let i = N + i0; i < N + i1; i += B) st.ap.applyBatch(records.slice(i, Math.min(i + B, N + i1))); },
  npm: (st, i0, i1) => { for (let i = N + i0; i < N + i1; i += B) st.r.applyBatch(encoded.slice(i, Math.min(i + B, N + i1))); },
}, SPARSE, B * Math.max(1, Math.floor(SPARSE / 20 / B)), copied.applyBatch(B));

// A call that does almost nothing: the binding's fixed cost.
measure('count (fixed cost)', {
  setup: () => null,
  comp: (_, i0, i1) => { for (let i = i0; i < i1; i++) cdb.count(); },
  npm: (_, i0, i1) => { for (let i = i0; i < i1; i++) void ndb.count; },
}, 1000000, 50000, copied.count());

const w = ['op', 'component_ns', 'npm_ns', 'ratio', 'c_in', 'c_out', 'n_in', 'n_out'];
const lines = [w, ...rows.map((r) => w.map((k) => String(r[k])))];
const width = w.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
for (const l of lines) console.log(l.map((c, i) => c.padStart(width[i])).join('  '));
console.log(`dim ${DIM}, ${N} vectors, ${Q} queries, ${SPARSE} sparse deltas (mean ${sparseBytes.toFixed(1)} bytes with header), ${ROUNDS} round(s) of paired chunks, CPU time`);
const bar = 1.2, goals = {};
for (const op of ['insert', 'search k=10', 'apply sparse (record)', 'apply sparse (bytes)']) {
  const r = rows.find((x) => x.op === op).ratio;
  goals[`${op} within ${bar}x of dvw_*`] = `${r <= bar ? 'met' : 'missed'} (${r}x)`;
}
console.log('\nGoals');
for (const [g, v] of Object.entries(goals)) console.log(`  ${g}: ${v}`);
const jco = JSON.parse(readFileSync(path.join(repo, 'wit/node_modules/@bytecodealliance/jco/package.json'), 'utf8')).version;
const out = {
  bench: 'component-overhead', quick, node: process.version, jco, dim: DIM, vectors: N, queries: Q,
  sparse_deltas: SPARSE, sparse_delta_bytes: +sparseBytes.toFixed(1), rounds: ROUNDS, timer: 'process CPU time',
  loadavg_end: os.loadavg().map((x) => +x.toFixed(2)), rows, goals,
};
const dir = path.join(repo, 'bench/results');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, quick ? 'component_overhead-quick.json' : 'component_overhead.json');
writeFileSync(file, JSON.stringify(out, null, 1) + '\n');
console.log(`\nwrote ${path.relative(process.cwd(), file)} (load ${out.loadavg_end.join(' ')} at end)`);
