// apply.mjs -- apply latency per delta kind: wasm SIMD vs wasm scalar vs native (dvw_vectors bench), same
// stream, same run (the apply-side latency table against the design targets).
//
// The native tool (build-wasm/dvw_vectors, gcc -O2, best kernel set of the CPU) generates a stream of `ops`
// deltas of the fixed interop workload (inserts, dense and sparse updates, deletes, metadata) and times its own
// dv_apply_delta per record (the stream read by the core's reader); each wasm module applies the same stream through the public JS API
// (Replica.apply: copy into wasm memory + dvw_replica_apply), timed per delta with hrtime. Every replica must
// reach the primary's final state hash. `rounds` fresh replays per side, interleaved (native, simd, scalar);
// per kind: median over rounds of the per-round median (and p99) latency.
//
// Standalone: node bench/apply.mjs [ops] [dim] [rounds]  (prints the table, writes build-wasm/bench-apply.json).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { loadModule, toolPath, buildDir, median, fmt, table } from './common.mjs';

const kindOf = (d) => (d[8] === 2 ? ((d[9] & 2) ? 'sparse_update' : 'dense_update') : ({ 1: 'insert', 3: 'delete', 4: 'batch' }[d[8]] || 'other'));

export async function benchApply({ ops = 20000, dim = 128, rounds = 3, log = console.log } = {}) {
  if (!existsSync(toolPath)) return { ran: false, reason: `${toolPath} missing: run scripts/build-wasm.sh` };
  const dir = path.join(buildDir, 'bench');
  mkdirSync(dir, { recursive: true });
  const stream = path.join(dir, `s-${ops}-${dim}.dvs`), json = path.join(dir, `s-${ops}-${dim}.json`);
  execFileSync(toolPath, ['gen', stream, json, String(ops), String(dim)]);
  const exp = JSON.parse(readFileSync(json, 'utf8'));
  const mods = [await loadModule(true), await loadModule(false)];
  const { deltas } = mods[0].readStream(readFileSync(stream));
  const per = { native: [], simd128: [], scalar: [] }; // per side: one {kind: {median_us, p99_us}} per round
  let nativeBackend = null;
  for (let round = 0; round < rounds; round++) {
    const nat = JSON.parse(execFileSync(toolPath, ['bench', stream]).toString());
    if (nat.hash !== exp.final_hash) throw new Error(`native apply hash ${nat.hash} != ${exp.final_hash}`);
    nativeBackend = nat.backend;
    per.native.push(Object.fromEntries(Object.entries(nat.ops).map(([k, v]) => [k, { median_us: v.median_ns / 1000, p99_us: v.p99_ns / 1000 }])));
    for (const dv of mods) {
      const r = dv.openReplica(exp);
      const t = {};
      for (const d of deltas) {
        const t0 = process.hrtime.bigint();
        r.apply(d);
        (t[kindOf(d)] ||= []).push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      const hash = r.db.stateHash().toString(16).padStart(16, '0');
      r.close();
      if (hash !== exp.final_hash) throw new Error(`wasm ${dv.backend} apply hash ${hash} != ${exp.final_hash}`);
      per[dv.backend].push(Object.fromEntries(Object.entries(t).map(([k, v]) => {
        v.sort((a, b) => a - b);
        return [k, { median_us: v[v.length >> 1], p99_us: v[Math.floor(v.length * 0.99)] }];
      })));
    }
  }
  const kinds = Object.keys(per.native[0]);
  const results = {};
  for (const [side, rs] of Object.entries(per)) {
    results[side] = Object.fromEntries(kinds.filter((k) => rs[0][k]).map((k) => [k, {
      median_us: +median(rs.map((x) => x[k].median_us)).toFixed(3), p99_us: +median(rs.map((x) => x[k].p99_us)).toFixed(3),
    }]));
  }
  const ratio = (a, b, k) => (a[k] && b[k] ? +(a[k].median_us / b[k].median_us).toFixed(2) : null);
  const res = {
    ran: true, dim, deltas: deltas.length, rounds, native_backend: nativeBackend, final_hash: exp.final_hash,
    method: 'per-delta wall time; per kind: median over rounds of the round median (and p99); wasm through Replica.apply (JS copy + call)',
    results,
    simd_over_native: Object.fromEntries(kinds.map((k) => [k, ratio(results.simd128, results.native, k)])),
    scalar_over_simd: Object.fromEntries(kinds.map((k) => [k, ratio(results.scalar, results.simd128, k)])),
  };
  const f = (o, k) => (o[k] ? `${fmt(o[k].median_us, 2)} / ${fmt(o[k].p99_us, 2)}` : '-');
  const rows = [['op', `native (${nativeBackend})`, 'wasm simd128', 'wasm scalar', 'simd/native', 'scalar/simd']];
  for (const k of kinds) {
    rows.push([k, f(results.native, k), f(results.simd128, k), f(results.scalar, k),
      `${fmt(res.simd_over_native[k], 2)}x`, `${fmt(res.scalar_over_simd[k], 2)}x`]);
  }
  log(`\nApply latency per delta, dim ${dim}, ${deltas.length} deltas, median / p99 µs (median of ${rounds} rounds); all replicas reach hash ${exp.final_hash}`);
  log(table(rows));
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const res = await benchApply({ ops: +(process.argv[2] || 20000), dim: +(process.argv[3] || 128), rounds: +(process.argv[4] || 3) });
  if (res.ran) writeFileSync(path.join(buildDir, 'bench-apply.json'), JSON.stringify(res, null, 2));
  else console.log(res.reason);
}
