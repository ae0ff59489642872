// apply.mjs -- apply latency per delta kind: wasm SIMD vs wasm scalar vs native (dvw_vectors bench), same stream,
// same run. Prints a table and writes build-wasm/bench-apply.json. Usage: node bench/apply.mjs [ops] [dim]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { load, splitStream } from '../src/index.js';
import { tool, buildDir } from '../test/env.js';

const ops = process.argv[2] || '20000', dim = process.argv[3] || '128';
const dir = path.join(buildDir, 'bench');
mkdirSync(dir, { recursive: true });
const stream = path.join(dir, `s-${ops}-${dim}.dvs`), json = path.join(dir, `s-${ops}-${dim}.json`);
execFileSync(tool, ['gen', stream, json, ops, dim]);
const exp = JSON.parse(readFileSync(json, 'utf8'));
const deltas = splitStream(readFileSync(stream));
const kindOf = (d) => (d[8] === 2 ? ((d[9] & 2) ? 'sparse_update' : 'dense_update') : ({ 1: 'insert', 3: 'delete', 4: 'batch' }[d[8]] || 'other'));
const res = {};
const nat = JSON.parse(execFileSync(tool, ['bench', stream, dim, '8', '64', '32', '42', '0']).toString());
res.native = Object.fromEntries(Object.entries(nat.ops).map(([k, v]) => [k, { median_us: v.median_ns / 1000, p99_us: v.p99_ns / 1000 }]));
for (const simd of [true, false]) {
  const dv = await load({ simd, fresh: true });
  const r = dv.openReplica(exp);
  const t = {};
  for (const d of deltas) {
    const t0 = process.hrtime.bigint();
    r.apply(d);
    (t[kindOf(d)] ||= []).push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  if (r.db.stateHash().toString(16).padStart(16, '0') !== exp.final_hash) throw new Error('hash mismatch');
  res[dv.backend] = Object.fromEntries(Object.entries(t).map(([k, v]) => {
    v.sort((a, b) => a - b);
    return [k, { median_us: v[v.length >> 1], p99_us: v[Math.floor(v.length * 0.99)] }];
  }));
  r.close();
}
const kinds = Object.keys(res.native);
console.log(`apply latency per delta, dim ${dim}, ${deltas.length} deltas (median / p99 µs)`);
console.log(['op', 'native(' + nat.backend + ')', 'wasm simd128', 'wasm scalar', 'simd/native'].join('\t'));
for (const k of kinds) {
  const f = (o) => (o && o[k] ? `${o[k].median_us.toFixed(2)} / ${o[k].p99_us.toFixed(2)}` : '-');
  console.log([k, f(res.native), f(res.simd128), f(res.scalar), (res.simd128[k].median_us / res.native[k].median_us).toFixed(2) + 'x'].join('\t'));
}
writeFileSync(path.join(buildDir, 'bench-apply.json'), JSON.stringify({ dim: +dim, deltas: deltas.length, results: res }, null, 2));
