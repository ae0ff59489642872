// common.mjs -- shared pieces of the Node benchmarks (js/bench/wasm.mjs and its parts).
//
// Where things are: the wasm modules come from DVW_DIST (default js/dist), the native tool dvw_vectors from
// DVW_BUILD (default build-wasm/), the native kernel benchmark from DV_BENCH_KERNELS (default
// build-bench/bench/bench_kernels). Statistics are medians over rounds because the machine is a shared
// 2-core VM: a median is robust to one round losing its core to a neighbour; min is kept next to it.
// Random data is deterministic (a 64-bit LCG in BigInt for the kernel inputs, identical to
// bench/bench_kernels.c, and a 32-bit xorshift-multiply generator plus Box-Muller for the HNSW set).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { load } from '../src/index.js';

export const jsRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(jsRoot, '..');
export const distDir = process.env.DVW_DIST ? path.resolve(process.env.DVW_DIST) : path.join(jsRoot, 'dist');
export const buildDir = process.env.DVW_BUILD ? path.resolve(process.env.DVW_BUILD) : path.join(repoRoot, 'build-wasm');
export const toolPath = path.join(buildDir, 'dvw_vectors');
export const nativeKernelsPath = process.env.DV_BENCH_KERNELS || path.join(repoRoot, 'build-bench/bench/bench_kernels');

/** A fresh instance of deltavec.wasm (simd true) or deltavec-scalar.wasm (false) from distDir. */
export async function loadModule(simd) {
  const file = path.join(distDir, simd ? 'deltavec.wasm' : 'deltavec-scalar.wasm');
  if (!existsSync(file)) throw new Error(`${file} missing: run scripts/build-wasm.sh first`);
  return load({ simd, fresh: true, url: pathToFileURL(file).href });
}

export const nowNs = () => process.hrtime.bigint();
export const msSince = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export const min = (xs) => Math.min(...xs);

/** Fixed-width text table: rows of cells, first row is the header. */
export function table(rows) {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((x, c) => (c === 0 ? String(x).padEnd(w[c]) : String(x).padStart(w[c]))).join('  ')).join('\n');
}

export const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));

/* ---- deterministic random numbers ---- */

/** 32-bit generator (mulberry32): uniform in [0, 1). */
export function rng32(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare = null;
  next.gauss = () => {
    if (spare !== null) { const g = spare; spare = null; return g; }
    let u = 0;
    while (u === 0) u = next();
    const v = next(), r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return next;
}

/**
 * Clustered synthetic set, the recipe of bench/dataset.c (not bit-identical to it): centres N(0,1), per-cluster
 * sigma spread*U(0.5,1.5), each point centre + sigma*N(0,1) for a uniformly chosen cluster. Base and queries
 * are drawn from the same distribution with different streams. Returns Float32Arrays, row-major.
 */
export function clustered({ n, nq, dim, clusters, spread, seed }) {
  const r = rng32(seed);
  const centres = new Float32Array(clusters * dim), sig = new Float64Array(clusters);
  for (let i = 0; i < centres.length; i++) centres[i] = r.gauss();
  for (let c = 0; c < clusters; c++) sig[c] = spread * (0.5 + r());
  const draw = (count, s) => {
    const g = rng32(s), out = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const c = Math.floor(g() * clusters);
      for (let j = 0; j < dim; j++) out[i * dim + j] = centres[c * dim + j] + sig[c] * g.gauss();
    }
    return out;
  };
  return { base: draw(n, seed + 1), query: draw(nq, seed + 2) };
}

/** Exact k nearest neighbours (squared L2) of every query, by brute force in JS: Int32Array nq*k. */
export function groundTruth(base, query, dim, k) {
  const n = base.length / dim, nq = query.length / dim, gt = new Int32Array(nq * k);
  const bd = new Float64Array(k), bi = new Int32Array(k);
  for (let q = 0; q < nq; q++) {
    bd.fill(Infinity); bi.fill(-1);
    const qo = q * dim;
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) { const d = base[o + j] - query[qo + j]; s += d * d; }
      if (s < bd[k - 1]) {
        let p = k - 1;
        while (p > 0 && bd[p - 1] > s) { bd[p] = bd[p - 1]; bi[p] = bi[p - 1]; p--; }
        bd[p] = s; bi[p] = i;
      }
    }
    gt.set(bi, q * k);
  }
  return gt;
}
