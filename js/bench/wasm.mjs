// wasm.mjs -- the WebAssembly benchmark, one Node process, printed tables + one JSON file.
//
//   1. kernels   ns per call of l2sq / dot / diff: wasm SIMD128 vs wasm scalar vs native   (kernels.mjs)
//   2. hnsw      build + search: deltavec wasm vs npm hnswlib-wasm, same data              (hnsw.mjs)
//   3. apply     apply latency per delta kind: wasm SIMD vs scalar vs native                (apply.mjs)
//   4. parallel  parallel apply throughput with 1, 2, 4 workers                             (parallel.mjs)
//   5. synth100k QPS at recall 0.95 vs hnswlib-wasm, 100,000 x 128 clustered (issue 15's set)   (hnsw.mjs)
//   6. fashion   the same on 9,000 x 784 Fashion-MNIST (Debian dataset-fashion-mnist)        (hnsw.mjs)
//   7. memory    wasm memory after a 100,000 x 128 build vs the library's own count          (memory.mjs)
//
// Usage (from js/): npm run bench:wasm [-- --quick] [-- --only=kernels,hnsw]
//   --quick    small sizes, few rounds: a smoke run; writes bench/results/wasm_bench-quick.json (git-ignored)
//   --hnsw-sets=100000x128,9000x784   the HNSW part on these n x dim sets (JSON: hnsw = the first, hnsw_sets = all;
//              bench/issue15.py passes the sets)
//   --hnsw-build-rounds=N   interleaved builds per index (default 3; a 100k x 128 build takes minutes in wasm)
//   full run   writes bench/results/wasm_bench.json
// Env: DVW_DIST (wasm modules, default js/dist), DVW_BUILD (dvw_vectors, default build-wasm/),
//      DV_BENCH_KERNELS (native kernel bench, default build-bench/bench/bench_kernels).
// Build first: scripts/build-wasm.sh (and for the native kernel column
// cmake -S . -B build-bench -DDV_BUILD_TESTS=OFF && cmake --build build-bench --target bench_kernels).
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync, statSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, distDir, buildDir } from './common.mjs';
import { benchKernels } from './kernels.mjs';
import { benchHnsw, benchFashion } from './hnsw.mjs';
import { benchMemory } from './memory.mjs';
import { benchApply } from './apply.mjs';
import { benchParallel } from './parallel.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = new Set(onlyArg ? onlyArg.slice(7).split(',') : ['kernels', 'hnsw', 'apply', 'parallel', 'synth100k', 'fashion', 'memory']);
const setsArg = args.find((a) => a.startsWith('--hnsw-sets='));
const hnswSets = setsArg ? setsArg.slice(12).split(',').map((s) => s.split('x').map(Number)) : null;
if (hnswSets && hnswSets.some(([n, dim]) => !(n > 0 && dim > 0))) throw new Error(`bad ${setsArg}: want NxD,NxD`);
const buildRoundsArg = args.find((a) => a.startsWith('--hnsw-build-rounds='));
const buildRounds = buildRoundsArg ? Math.max(1, parseInt(buildRoundsArg.slice(20), 10) || 1) : null;

const sh = (cmd, a) => { try { return execFileSync(cmd, a, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return null; } };
const size = (f) => { try { return statSync(path.join(distDir, f)).size; } catch { return null; } };
const cpuModel = (() => { try { return (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || os.cpus()[0].model; } catch { return os.cpus()[0]?.model; } })();

const out = {
  date: new Date().toISOString(),
  command: `cd js && npm run bench:wasm${quick ? ' -- --quick' : ''}`,
  git_commit: sh('git', ['rev-parse', '--short', 'HEAD']),
  git_dirty_paths: (sh('git', ['status', '--porcelain', '--', 'src', 'include', 'wasm']) || '').split('\n').filter(Boolean).length,
  node: process.version,
  cpu: cpuModel, cpus: os.cpus().length, loadavg_start: os.loadavg().map((x) => +x.toFixed(2)),
  dist: path.relative(repoRoot, distDir), build: path.relative(repoRoot, buildDir),
  module_bytes: { 'deltavec.wasm': size('deltavec.wasm'), 'deltavec-scalar.wasm': size('deltavec-scalar.wasm'), 'deltavec-mt.wasm': size('deltavec-mt.wasm') },
  quick,
  noise_note: 'shared 2-core VM: medians over rounds; loadavg at start/end recorded; compare columns of one run, not runs',
};
console.log(`deltavec wasm benchmark ${out.date} node ${out.node}, ${out.cpus} x ${out.cpu}, load ${out.loadavg_start.join(' ')}${quick ? ' (quick)' : ''}`);

if (only.has('kernels')) out.kernels = await benchKernels(quick ? { dims: [128, 1024], rounds: 3 } : { rounds: 9 });
if (only.has('hnsw')) {
  const rounds = quick ? { nq: 200, buildRounds: 1, searchRounds: 3 } : { buildRounds: 3, searchRounds: 5 };
  if (buildRounds) rounds.buildRounds = buildRounds;
  if (hnswSets) {
    out.hnsw_sets = [];
    for (const [n, dim] of hnswSets) out.hnsw_sets.push(await benchHnsw({ ...rounds, n, dim }));
    out.hnsw = out.hnsw_sets[0];
  } else out.hnsw = await benchHnsw(quick ? { ...rounds, n: 4000 } : rounds);
}
// The issue-15 sets: deltavec simd128 and hnswlib-wasm only (the scalar module is compared on the 20k set), one build.
if (only.has('synth100k')) {
  out.hnsw_synth100k = await benchHnsw(quick ? { n: 10000, nq: 200, clusters: 100, buildRounds: 1, searchRounds: 3, scalar: false }
    : { n: 100000, nq: 1000, clusters: 1000, buildRounds: 1, searchRounds: 5, scalar: false });
}
if (only.has('fashion')) {
  out.hnsw_fashion = await benchFashion(quick ? { nBase: 3000, nq: 200, buildRounds: 1, searchRounds: 3, scalar: false }
    : { nBase: 9000, nq: 1000, buildRounds: 1, searchRounds: 5, scalar: false });
}
if (only.has('memory')) out.memory = await benchMemory(quick ? { n: 20000 } : { n: 100000 });
if (only.has('apply')) out.apply = await benchApply(quick ? { ops: 5000, rounds: 1 } : { ops: 20000, rounds: 5 });
if (only.has('parallel')) out.parallel = await benchParallel(quick ? { quick: true } : {});

out.loadavg_end = os.loadavg().map((x) => +x.toFixed(2));
const goals = {};
if (out.kernels) {
  for (const [dim, c] of Object.entries(out.kernels.cells)) {
    for (const [op, s] of Object.entries(c.speedup_simd_over_scalar)) goals[`kernel simd >= 2x scalar: ${op} dim ${dim}`] = s >= 2 ? `met (${s.toFixed(2)}x)` : `missed (${s.toFixed(2)}x)`;
  }
}
if (out.hnsw && out.hnsw.ratios_deltavec_simd_over_hnswlib_wasm) {
  const q = out.hnsw.ratios_deltavec_simd_over_hnswlib_wasm;
  goals['hnsw inserts/s > hnswlib-wasm'] = `${q.inserts_per_s > 1 ? 'met' : 'missed'} (${q.inserts_per_s}x)`;
  goals['hnsw QPS@0.95 > hnswlib-wasm'] = q.qps_at_target === null ? 'not measured' : `${q.qps_at_target > 1 ? 'met' : 'missed'} (${q.qps_at_target}x)`;
}
for (const key of ['hnsw_synth100k', 'hnsw_fashion']) {
  const q = out[key] && out[key].ratios_deltavec_simd_over_hnswlib_wasm;
  if (q) goals[`${key}: QPS@0.95 (interpolated) >= 3x hnswlib-wasm`] = q.qps_at_target_interpolated === null ? 'not measured'
    : `${q.qps_at_target_interpolated >= 3 ? 'met' : 'missed'} (${q.qps_at_target_interpolated}x)`;
}
if (out.memory) {
  const r = out.memory.ratios;
  goals['wasm memory <= 1.1x own count (capacity n)'] = `${r.capacity_wasm_over_own <= 1.1 ? 'met' : 'missed'} (${r.capacity_wasm_over_own}x)`;
  goals['wasm memory <= 1.1x own count (grown)'] = `${r.grown_wasm_over_own <= 1.1 ? 'met' : 'missed'} (${r.grown_wasm_over_own}x)`;
}
if (out.apply && out.apply.ran) {
  for (const [k, r] of Object.entries(out.apply.simd_over_native)) goals[`apply wasm simd within 2x native: ${k}`] = r === null ? '-' : `${r <= 2 ? 'met' : 'missed'} (${r}x)`;
}
if (out.parallel) goals['parallel apply 1/2/4 workers'] = out.parallel.ran ? 'measured' : `not measured: ${out.parallel.reason}`;
out.goals = goals;
console.log('\nGoals');
for (const [g, v] of Object.entries(goals)) console.log(`  ${g}: ${v}`);

const dir = path.join(repoRoot, 'bench/results');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, quick ? 'wasm_bench-quick.json' : 'wasm_bench.json');
writeFileSync(file, JSON.stringify(out, null, 1) + '\n');
console.log(`\nwrote ${path.relative(process.cwd(), file)} (load ${out.loadavg_end.join(' ')} at end)`);
