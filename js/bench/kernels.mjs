// kernels.mjs -- ns per call of the distance and diff kernels: wasm SIMD128 vs wasm scalar vs native.
//
// The loop runs inside wasm (dvw_kernel_bench, wasm/exports.c): one JS call runs `calls` kernel calls, so the
// JS->wasm transition is amortized away. Columns:
//   simd128        the SIMD128 kernels in deltavec.wasm
//   scalar         the scalar kernels in the same deltavec.wasm (compiled with -msimd128: clang may
//                  auto-vectorize the diff loop, never the float reductions without -ffast-math)
//   scalar module  the scalar kernels in deltavec-scalar.wasm (no SIMD at all: what a SIMD-less engine runs)
//   native         build-bench/bench/bench_kernels (best AVX2/SSE set the CPU has), run as a child process
// Inputs, call counts (20e6/dim + 1 per timing) and eps (0.001) are those of bench/bench_kernels.c, so the
// native column measures the same work. Time is process CPU time (user+sys, like the native bench's thread CPU
// time, robust to steal on a shared VM); wall time is kept in the JSON. Per cell: median (and min) over rounds,
// rounds interleaved across sets so a noisy moment hits all of them; native is best of its own 5 repetitions.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadModule, nativeKernelsPath, repoRoot, median, min, fmt, table } from './common.mjs';

const OPS = [['l2sq', 0, 'b'], ['dot', 1, 'b'], ['diff_1pct', 2, 'c1'], ['diff_50pct', 2, 'c50']];

/* Inputs of bench_kernels.c: a 64-bit LCG from 1; a = (r >> 40) / 2^24, b = a / 2, c1/c50 = a + 1 on 1%/50%. */
function inputs(n) {
  const a = new Float32Array(n + 1), b = new Float32Array(n + 1), c1 = new Float32Array(n + 1), c50 = new Float32Array(n + 1);
  const M = (1n << 64n) - 1n;
  let r = 1n;
  for (let i = 0; i <= n; i++) {
    r = (r * 6364136223846793005n + 1442695040888963407n) & M;
    a[i] = Number(r >> 40n) / 16777216;
    b[i] = a[i] * 0.5;
    const s = r >> 20n;
    c1[i] = s % 100n === 0n ? a[i] + 1 : a[i];
    c50[i] = s % 2n === 0n ? a[i] + 1 : a[i];
  }
  return { a, b, c1, c50 };
}

/** Copies the inputs of dimension n into a module's memory; returns pointers. */
function place(dv, data, n) {
  const x = dv.rt.x, ptr = {};
  for (const k of ['a', 'b', 'c1', 'c50']) {
    ptr[k] = x.dvw_alloc((n + 1) * 4);
    dv.rt.f32.set(data[k], ptr[k] >>> 2);
  }
  ptr.idx = x.dvw_alloc(n * 4);
  return ptr;
}

function nativeKernels(dims) {
  if (!existsSync(nativeKernelsPath)) {
    // the path relative to the repository: results files are committed and must not name this machine's folders
    return { ran: false, reason: `${path.relative(repoRoot, nativeKernelsPath)} not built (cmake -S . -B build-bench -DDV_BUILD_TESTS=OFF && cmake --build build-bench --target bench_kernels)` };
  }
  const out = execFileSync(nativeKernelsPath, dims.map(String)).toString();
  const best = (out.match(/dispatch picks (\w+)/) || [])[1];
  const cells = {};
  for (const line of out.split('\n')) {
    const m = line.trim().split(/\s+/);
    if (m.length < 6 || !/^\d+$/.test(m[1]) || m[0] !== best) continue; // set, dim, l2sq, dot, diff 1%, diff 50%, ...
    cells[m[1]] = { l2sq: +m[2], dot: +m[3], diff_1pct: +m[4], diff_50pct: +m[5] };
  }
  return { ran: true, backend: best, method: 'best of 11 interleaved repetitions, thread CPU time', ns: cells };
}

export async function benchKernels({ dims = [128, 384, 1024], rounds = 7, log = console.log } = {}) {
  const simdMod = await loadModule(true), scalarMod = await loadModule(false);
  if (!simdMod.rt.x.dvw_kernel_bench) throw new Error('this build has no dvw_kernel_bench export: rebuild with scripts/build-wasm.sh');
  const variants = [['simd128', simdMod, 1], ['scalar', simdMod, 0], ['scalar_module', scalarMod, 0]];
  const res = { method: 'ns per kernel call, loop inside wasm, process CPU time; median (min) over rounds', rounds, dims, cells: {} };
  for (const n of dims) {
    const data = inputs(n), calls = Math.floor(20e6 / n) + 1;
    const ptrs = new Map([[simdMod, place(simdMod, data, n)], [scalarMod, place(scalarMod, data, n)]]);
    const cpu = {}, wall = {};
    for (let round = 0; round < rounds + 1; round++) { // round 0 warms up (tier-up of the wasm code) and is dropped
      for (const [name, dv, set] of variants) {
        const p = ptrs.get(dv), x = dv.rt.x;
        for (const [op, code, bkey] of OPS) {
          const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
          const sum = x.dvw_kernel_bench(set, code, p.a, p[bkey], n, calls, p.idx);
          const tw = Number(process.hrtime.bigint() - t0), cu = process.cpuUsage(c0);
          if (sum < 0) throw new Error(`dvw_kernel_bench(${name}, ${op}) refused`);
          if (round === 0) continue;
          ((cpu[name] ||= {})[op] ||= []).push(((cu.user + cu.system) * 1000) / calls);
          ((wall[name] ||= {})[op] ||= []).push(tw / calls);
        }
      }
    }
    for (const dv of [simdMod, scalarMod]) for (const q of Object.values(ptrs.get(dv))) dv.rt.x.dvw_free(q);
    const cell = {};
    for (const [name] of variants) {
      cell[name] = {};
      for (const [op] of OPS) {
        cell[name][op] = { median_ns: median(cpu[name][op]), min_ns: min(cpu[name][op]), wall_median_ns: median(wall[name][op]) };
      }
    }
    cell.speedup_simd_over_scalar = Object.fromEntries(OPS.map(([op]) => [op, cell.scalar[op].median_ns / cell.simd128[op].median_ns]));
    cell.speedup_simd_over_scalar_module = Object.fromEntries(OPS.map(([op]) => [op, cell.scalar_module[op].median_ns / cell.simd128[op].median_ns]));
    res.cells[n] = cell;
  }
  res.native = nativeKernels(dims);
  if (res.native.ran) {
    for (const n of dims) {
      const nc = res.native.ns[n];
      if (nc) res.cells[n].simd128_over_native_min = Object.fromEntries(OPS.map(([op]) => [op, res.cells[n].simd128[op].min_ns / nc[op]]));
    }
  }
  const rows = [['dim', 'kernel', 'simd128', 'scalar', 'scalar module', `native ${res.native.backend || ''}`.trim(), 'simd/scalar', 'simd/scalar-mod', 'simd(min)/native']];
  for (const n of dims) {
    const c = res.cells[n], nc = res.native.ran ? res.native.ns[n] : null;
    for (const [op] of OPS) {
      rows.push([n, op, fmt(c.simd128[op].median_ns), fmt(c.scalar[op].median_ns), fmt(c.scalar_module[op].median_ns),
        nc ? fmt(nc[op]) : '-', fmt(c.speedup_simd_over_scalar[op], 2) + 'x', fmt(c.speedup_simd_over_scalar_module[op], 2) + 'x',
        nc ? fmt(c.simd128_over_native_min[op], 2) + 'x' : '-']);
    }
  }
  log(`\nKernels: ns per call, loop inside wasm, CPU time, median of ${rounds} rounds (native: best of 11)`);
  log(table(rows));
  if (!res.native.ran) log(`native column: ${res.native.reason}`);
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchKernels({ rounds: +(process.argv[2] || 7) });
