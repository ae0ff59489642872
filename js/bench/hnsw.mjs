// hnsw.mjs -- HNSW build and search: deltavec (wasm, through the public JS API) vs npm hnswlib-wasm, same
// Node process, same data.
//
// Data: clustered synthetic (recipe of bench/dataset.c), default 20000 x 128, 200 clusters, spread 0.7,
// 500 queries from the same distribution; exact top-10 by brute force in JS. Both indexes: L2, M = 16,
// ef_construction = 200, points inserted one call each in id order (0..n-1), the way an application adds them.
// hnswlib-wasm is loaded by importing its emscripten factory directly: the published build is compiled
// for ENVIRONMENT=web only (its loader throws "not compiled for this environment" under Node) and
// loadHnswlib() mounts IDBFS, which needs indexedDB; with a `window` global present during instantiation the
// factory runs in Node (the wasm is embedded as a data: URI, so nothing is fetched).
// Timing: wall clock (hrtime) and process CPU time. Builds are repeated `buildRounds` times, interleaved
// (deltavec simd, deltavec scalar, hnswlib, then again), median inserts/s. Search: for every ef of a
// sweep, one untimed pass (recall, warm-up), then `searchRounds` timed passes per index, interleaved across
// indexes, each pass running the query set as many times as fit in >= minPassS (0.15 s); QPS = queries / median
// time per query set; recall@10 = |found ∩ exact| / 10 averaged. Reported: QPS at the smallest ef of
// the sweep whose recall reaches the target (0.95).
import { clustered, groundTruth, loadModule, median, fmt, table, jsRoot } from './common.mjs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const EFS = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256];

/** hnswlib-wasm's emscripten module in Node, or {error} with the exact failure text. */
export async function loadHnswlibWasm() {
  const pkgDir = path.join(jsRoot, 'node_modules/hnswlib-wasm');
  if (!existsSync(pkgDir)) return { error: 'hnswlib-wasm is not installed (cd js && npm install)' };
  const version = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  try {
    // dist/hnswlib.js imports "./hnswlib-<hash>.js" (the emscripten factory); find it from that import.
    const loader = readFileSync(path.join(pkgDir, 'dist/hnswlib.js'), 'utf8');
    const m = loader.match(/import\("\.\/(hnswlib-[0-9a-f]+\.js)"\)/);
    if (!m) return { error: 'cannot find the emscripten factory import in hnswlib-wasm/dist/hnswlib.js', version };
    const factory = (await import(pathToFileURL(path.join(pkgDir, 'dist', m[1])).href)).default;
    const hadWindow = 'window' in globalThis;
    if (!hadWindow) globalThis.window = globalThis; // its ENVIRONMENT=web check
    try {
      return { lib: await factory(), version };
    } finally {
      if (!hadWindow) delete globalThis.window;
    }
  } catch (e) {
    return { error: String(e && e.stack ? e.stack.split('\n')[0] : e), version };
  }
}

/** QPS at recall exactly `target`, linear between the sweep points around it (the first point if it is above). */
function interpQps(sweep, target) {
  for (let i = 0; i < sweep.length; i++) {
    const b = sweep[i];
    if (b.recall_at_10 < target) continue;
    if (i === 0 || b.recall_at_10 === target) return b.qps;
    const a = sweep[i - 1], t = (target - a.recall_at_10) / (b.recall_at_10 - a.recall_at_10);
    return +(a.qps + t * (b.qps - a.qps)).toFixed(0);
  }
  return null;
}

/* ---- the indexes behind one small interface ---- */

function deltavecIndex(dv, label, dim, o) {
  let db = null;
  return {
    label,
    build(base, n) {
      if (db) db.close();
      // capacity n up front, as hnswlib's initIndex(n): nothing is grown (copied) during the build
      db = dv.openDb({ dim, metric: 'l2', M: o.M, efConstruction: o.efc, efSearch: 64, seed: 42, capacity: n });
      for (let i = 0; i < n; i++) db.insert(String(i), base.subarray(i * dim, (i + 1) * dim));
    },
    search(q, k, ef, out) { // writes k result ids (as numbers) into out
      const hits = db.search(q, k, ef);
      for (let j = 0; j < k; j++) out[j] = j < hits.length ? +hits[j].id : -1;
    },
    memory() { return { wasm_bytes: dv.memoryBytes, own_bytes: db.memoryUsage }; },
    close() { if (db) db.close(); db = null; },
  };
}

function hnswlibIndex(lib, dim, o) {
  let idx = null;
  return {
    label: 'hnswlib-wasm',
    build(base, n) {
      if (idx && idx.delete) idx.delete();
      idx = new lib.HierarchicalNSW('l2', dim, '');
      idx.initIndex(n, o.M, o.efc, 100);
      for (let i = 0; i < n; i++) idx.addPoint(base.subarray(i * dim, (i + 1) * dim), i, false);
    },
    search(q, k, ef, out) {
      idx.setEfSearch(ef);
      const r = idx.searchKnn(q, k, undefined);
      for (let j = 0; j < k; j++) out[j] = j < r.neighbors.length ? r.neighbors[j] : -1;
    },
    memory() { return { wasm_bytes: lib.HEAP8 ? lib.HEAP8.buffer.byteLength : null, own_bytes: null }; },
    close() { if (idx && idx.delete) idx.delete(); idx = null; },
  };
}

export async function benchHnsw({ n = 20000, nq = 500, dim = 128, clusters = 200, spread = 0.7, seed = 20240601, k = 10,
  ...rest } = {}) {
  const t0 = Date.now();
  const { base, query } = clustered({ n, nq, dim, clusters, spread, seed });
  const gt = groundTruth(base, query, dim, k);
  const dataset = { kind: 'synthetic clustered (bench/dataset.c recipe, JS generator)', n, nq, dim, clusters, spread, seed, k };
  return benchHnswOn({ base, query, gt, dataset, prepS: (Date.now() - t0) / 1000,
    title: `${n} x ${dim} clustered (${clusters} clusters, spread ${spread}, seed ${seed})`, ...rest });
}

/**
 * Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist): the 10,000 test
 * images (28 x 28 bytes -> 784 floats 0..255), the first nBase as base, the next nq as queries; or {error}.
 */
export function fashionMnist({ nBase = 9000, nq = 1000, dir = '/usr/share/datasets/fashion-mnist' } = {}) {
  const file = path.join(dir, 't10k-images-idx3-ubyte.gz');
  if (!existsSync(file)) return { error: `${file} missing (apt-get install dataset-fashion-mnist)` };
  const b = gunzipSync(readFileSync(file));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const count = dv.getUint32(4), dim = dv.getUint32(8) * dv.getUint32(12);
  if (dv.getUint32(0) !== 2051 || count < nBase + nq || b.length < 16 + count * dim) return { error: `${file}: not an idx3 file of ${nBase + nq} images` };
  const all = Float32Array.from(b.subarray(16, 16 + (nBase + nq) * dim));
  return { base: all.subarray(0, nBase * dim), query: all.subarray(nBase * dim), dim, n: nBase, nq };
}

export async function benchFashion({ nBase = 9000, nq = 1000, k = 10, ...rest } = {}) {
  const t0 = Date.now();
  const f = fashionMnist({ nBase, nq });
  if (f.error) { (rest.log || console.log)(`\nHNSW fashion-mnist: NOT RUN: ${f.error}`); return { ran: false, reason: f.error }; }
  const gt = groundTruth(f.base, f.query, f.dim, k);
  const dataset = { kind: 'Fashion-MNIST test images (Debian dataset-fashion-mnist), first n base, next nq queries, raw 0..255', n: f.n, nq, dim: f.dim, k };
  return benchHnswOn({ base: f.base, query: f.query, gt, dataset, prepS: (Date.now() - t0) / 1000,
    title: `${f.n} x ${f.dim} Fashion-MNIST`, ...rest });
}

export async function benchHnswOn({ base, query, gt, dataset, title, prepS, M = 16, efc = 200, target = 0.95,
  buildRounds = 3, searchRounds = 5, minPassS = 0.15, scalar = true, log = console.log }) {
  const { n, nq, dim, k } = dataset;
  log(`\nHNSW: ${title}, ${nq} queries, M=${M} ef_construction=${efc}; data + ground truth in ${prepS.toFixed(1)} s`);
  const o = { M, efc };
  const indexes = [deltavecIndex(await loadModule(true), 'deltavec simd128', dim, o)];
  if (scalar) indexes.push(deltavecIndex(await loadModule(false), 'deltavec scalar', dim, o));
  const h = await loadHnswlibWasm();
  const res = {
    dataset,
    params: { M, ef_construction: efc, build_rounds: buildRounds, search_rounds: searchRounds, min_pass_s: minPassS, recall_target: target },
    hnswlib_wasm: h.error ? { ran: false, version: h.version || null, error: h.error } : { ran: true, version: h.version,
      note: 'published build is ENVIRONMENT=web and scalar (no SIMD128 opcodes in its wasm); loaded via its emscripten factory with a window shim' },
    results: {},
  };
  if (h.error) log(`hnswlib-wasm: NOT RUN: ${h.error}`);
  else indexes.push(hnswlibIndex(h.lib, dim, o));

  // Build: interleaved rounds; the index of the last round is kept for the search sweep.
  const build = new Map(indexes.map((ix) => [ix, { wall: [], cpu: [] }]));
  for (let r = 0; r < buildRounds; r++) {
    for (const ix of indexes) {
      const c0 = process.cpuUsage(), w0 = process.hrtime.bigint();
      ix.build(base, n);
      const w = Number(process.hrtime.bigint() - w0) / 1e9, cu = process.cpuUsage(c0);
      build.get(ix).wall.push(w);
      build.get(ix).cpu.push((cu.user + cu.system) / 1e6);
      if (r === 0) build.get(ix).memory = ix.memory(); // after the first build on a fresh instance
      log(`  build round ${r + 1}/${buildRounds} ${ix.label}: ${w.toFixed(2)} s wall, ${(n / w).toFixed(0)} inserts/s`);
    }
  }

  // Search sweep.
  const out = new Int32Array(k);
  const sweep = new Map(indexes.map((ix) => [ix, []]));
  const done = new Set();
  for (const ef of EFS) {
    const live = indexes.filter((ix) => !done.has(ix));
    if (!live.length) break;
    const times = new Map(live.map((ix) => [ix, []])), cpus = new Map(live.map((ix) => [ix, []]));
    const recall = new Map(), reps = new Map();
    for (let r = 0; r < searchRounds + 1; r++) { // pass 0: recall + warm-up, not timed into the median
      for (const ix of live) {
        let hit = 0;
        const nrep = r === 0 ? 1 : reps.get(ix);
        const c0 = process.cpuUsage(), w0 = process.hrtime.bigint();
        for (let rep = 0; rep < nrep; rep++) {
          for (let q = 0; q < nq; q++) {
            ix.search(query.subarray(q * dim, (q + 1) * dim), k, ef, out);
            if (r === 0) {
              for (let j = 0; j < k; j++) {
                const id = out[j];
                for (let g = 0; g < k; g++) if (gt[q * k + g] === id) { hit++; break; }
              }
            }
          }
        }
        const w = Number(process.hrtime.bigint() - w0) / 1e9, cu = process.cpuUsage(c0);
        if (r === 0) {
          recall.set(ix, hit / (nq * k));
          // A timed pass repeats the query set until it lasts >= minPassS: short passes are all noise here.
          reps.set(ix, Math.max(1, Math.ceil(minPassS / Math.max(w, 1e-6))));
        } else {
          times.get(ix).push(w / nrep);
          cpus.get(ix).push((cu.user + cu.system) / 1e6 / nrep);
        }
      }
    }
    for (const ix of live) {
      // QPS from process CPU time (the machine is shared: wall time counts other jobs' slices); wall in qps_wall
      const rec = recall.get(ix), qps = nq / median(cpus.get(ix)), qpsWall = nq / median(times.get(ix));
      sweep.get(ix).push({ ef, recall_at_10: +rec.toFixed(4), qps: +qps.toFixed(0), qps_wall: +qpsWall.toFixed(0) });
      // Keep going two steps past the target so the curve shows where it flattens, then stop.
      const past = sweep.get(ix).filter((s) => s.recall_at_10 >= target).length;
      if (past >= 3) done.add(ix);
    }
  }

  const rows = [['index', 'inserts/s (median)', 'build s', 'ef@0.95', 'recall', 'QPS@0.95', 'ef sweep (ef:recall:QPS)']];
  for (const ix of indexes) {
    const b = build.get(ix), s = sweep.get(ix);
    const hitTarget = s.find((x) => x.recall_at_10 >= target) || null;
    res.results[ix.label] = {
      build: { inserts_per_s_median: +(n / median(b.wall)).toFixed(1), wall_s: b.wall.map((x) => +x.toFixed(3)),
        cpu_s: b.cpu.map((x) => +x.toFixed(3)), inserts_per_cpu_s_median: +(n / median(b.cpu)).toFixed(1) },
      search: s,
      at_target: hitTarget,
      qps_at_target_interpolated: interpQps(s, target),
      memory_after_first_build: b.memory,
    };
    rows.push([ix.label, fmt(n / median(b.wall), 0), fmt(median(b.wall), 2), hitTarget ? hitTarget.ef : '-',
      hitTarget ? hitTarget.recall_at_10.toFixed(3) : '-', hitTarget ? hitTarget.qps : 'not reached',
      s.map((x) => `${x.ef}:${x.recall_at_10.toFixed(3)}:${x.qps}`).join(' ')]);
    ix.close();
  }
  const R = res.results, ours = R['deltavec simd128'], theirs = R['hnswlib-wasm'];
  if (ours && theirs) {
    res.ratios_deltavec_simd_over_hnswlib_wasm = {
      inserts_per_s: +(ours.build.inserts_per_s_median / theirs.build.inserts_per_s_median).toFixed(3),
      qps_at_target: ours.at_target && theirs.at_target ? +(ours.at_target.qps / theirs.at_target.qps).toFixed(3) : null,
      // the issue-15 row: QPS at recall@10 = target exactly, each side interpolated along its ef sweep
      qps_at_target_interpolated: ours.qps_at_target_interpolated && theirs.qps_at_target_interpolated
        ? +(ours.qps_at_target_interpolated / theirs.qps_at_target_interpolated).toFixed(3) : null,
    };
    const mo = ours.memory_after_first_build, mt = theirs.memory_after_first_build;
    if (mo && mt && mt.wasm_bytes) res.ratios_deltavec_simd_over_hnswlib_wasm.wasm_memory = +(mo.wasm_bytes / mt.wasm_bytes).toFixed(3);
  }
  log(`HNSW build (median of ${buildRounds}) and search (QPS: median of ${searchRounds} passes >= ${minPassS} s each, process CPU time)`);
  log(table(rows.map((r) => r.slice(0, 6))));
  for (const r of rows.slice(1)) log(`  ${r[0]} sweep: ${r[6]}`);
  if (res.ratios_deltavec_simd_over_hnswlib_wasm) {
    const q = res.ratios_deltavec_simd_over_hnswlib_wasm;
    log(`  deltavec simd128 / hnswlib-wasm: inserts/s ${q.inserts_per_s}x, QPS@${target} ${q.qps_at_target}x ` +
      `(first ef reaching it), ${q.qps_at_target_interpolated}x (interpolated at recall ${target})`);
  }
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a = Object.fromEntries(process.argv.slice(2).map((s) => s.split('=')).map(([kk, v]) => [kk, +v]));
  await benchHnsw(a);
}
