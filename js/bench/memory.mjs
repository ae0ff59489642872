// memory.mjs -- wasm memory after a build: WebAssembly.Memory size (what the page or process pays) against the
// library's own count (dv_db_memory_usage: bytes it holds from its allocator) and against hnswlib-wasm, each
// in a fresh instance of its module, same data, same Node run.
//
// Data: the clustered synthetic set of hnsw.mjs, default 100,000 x 128. M = 16; ef_construction = 40 (the
// sizes of every array and list are fixed by M, the level draw and the count, not by ef_construction, which
// only changes which neighbours are kept; a low value keeps this part short). Three builds:
//   deltavec, capacity n up front (openDb({capacity}) = dv_db_reserve; what hnswlib's initIndex(n) does)
//   deltavec, no capacity: the store grows by 1/8 as inserts arrive (the default for unknown counts)
//   hnswlib-wasm 0.8.2, initIndex(n)
// For the grown build, checkpoints every n/5 inserts show when the memory jumps. A fourth row opens the first
// build's snapshot (Db.snapshot() bytes) in a fresh instance.
import { clustered, loadModule, table, fmt } from './common.mjs';
import { loadHnswlibWasm } from './hnsw.mjs';

const MiB = 2 ** 20;

async function deltavecBuild(base, n, dim, o, capacity, checkpoints) {
  const dv = await loadModule(true); // fresh instance
  const start = dv.memoryBytes;
  const db = dv.openDb({ dim, metric: 'l2', M: o.M, efConstruction: o.efc, seed: 42, capacity: capacity ? n : 0 });
  const marks = [];
  for (let i = 0; i < n; i++) {
    db.insert(String(i), base.subarray(i * dim, (i + 1) * dim));
    if (checkpoints && (i + 1) % Math.ceil(n / 5) === 0) marks.push({ inserts: i + 1, wasm_bytes: dv.memoryBytes, own_bytes: db.memoryUsage });
  }
  const r = { wasm_bytes: dv.memoryBytes, own_bytes: db.memoryUsage, instance_start_bytes: start };
  if (capacity) r.snapshot = db.snapshot(); // for the snapshot-open row (removed from the result below)
  r.ratio_wasm_over_own = +(r.wasm_bytes / r.own_bytes).toFixed(3);
  r.ratio_growth_over_own = +((r.wasm_bytes - start) / r.own_bytes).toFixed(3); // without the empty instance
  if (checkpoints) r.checkpoints = marks;
  db.close();
  return r;
}

export async function benchMemory({ n = 100000, dim = 128, clusters = 1000, spread = 0.7, seed = 20240601, M = 16, efc = 40,
  log = console.log } = {}) {
  const { base } = clustered({ n, nq: 1, dim, clusters, spread, seed });
  log(`\nwasm memory: ${n} x ${dim} clustered, M=${M} ef_construction=${efc}, one insert call per vector, fresh instances`);
  const o = { M, efc };
  const res = {
    dataset: { kind: 'synthetic clustered (hnsw.mjs recipe)', n, dim, clusters, spread, seed },
    params: { M, ef_construction: efc },
    method: 'wasm_bytes = WebAssembly.Memory buffer.byteLength after the build (memory never shrinks, so this is the peak); own_bytes = dv_db_memory_usage',
  };
  res.deltavec_capacity = await deltavecBuild(base, n, dim, o, true, false);
  const snap = res.deltavec_capacity.snapshot;
  delete res.deltavec_capacity.snapshot;
  res.deltavec_grown = await deltavecBuild(base, n, dim, o, false, true);
  { // open the capacity build's snapshot in a fresh instance: the bytes are copied in, loaded, then freed
    const dv = await loadModule(true), start = dv.memoryBytes, db = dv.openDb({ snapshot: snap });
    res.deltavec_snapshot_open = { wasm_bytes: dv.memoryBytes, own_bytes: db.memoryUsage, instance_start_bytes: start, snapshot_bytes: snap.length };
    res.deltavec_snapshot_open.ratio_wasm_over_own = +(dv.memoryBytes / db.memoryUsage).toFixed(3);
    db.close();
  }
  const h = await loadHnswlibWasm();
  if (h.error) res.hnswlib_wasm = { ran: false, error: h.error };
  else {
    const idx = new h.lib.HierarchicalNSW('l2', dim, '');
    idx.initIndex(n, M, efc, 100);
    for (let i = 0; i < n; i++) idx.addPoint(base.subarray(i * dim, (i + 1) * dim), i, false);
    res.hnswlib_wasm = { ran: true, version: h.version, wasm_bytes: h.lib.HEAP8.buffer.byteLength };
    if (idx.delete) idx.delete();
  }
  const c = res.deltavec_capacity, g = res.deltavec_grown, hb = res.hnswlib_wasm.wasm_bytes;
  const rows = [['build', 'wasm MiB', 'own count MiB', 'wasm / own', 'vs hnswlib-wasm']];
  for (const [label, r] of [['deltavec, capacity n', c], ['deltavec, grown', g], ['deltavec, snapshot opened', res.deltavec_snapshot_open]]) {
    rows.push([label, fmt(r.wasm_bytes / MiB), fmt(r.own_bytes / MiB), `${r.ratio_wasm_over_own.toFixed(2)}x`, hb ? `${(r.wasm_bytes / hb).toFixed(2)}x` : '-']);
  }
  if (hb) rows.push([`hnswlib-wasm ${res.hnswlib_wasm.version}`, fmt(hb / MiB), '-', '-', '1.00x']);
  log(table(rows));
  log(`  grown build, wasm / own at ${g.checkpoints.map((m) => `${m.inserts}: ${(m.wasm_bytes / MiB).toFixed(1)}/${(m.own_bytes / MiB).toFixed(1)} MiB`).join(', ')}`);
  res.ratios = {
    capacity_wasm_over_own: c.ratio_wasm_over_own,
    grown_wasm_over_own: g.ratio_wasm_over_own,
    snapshot_open_wasm_over_own: res.deltavec_snapshot_open.ratio_wasm_over_own,
    capacity_over_hnswlib_wasm: hb ? +(c.wasm_bytes / hb).toFixed(3) : null,
    grown_over_hnswlib_wasm: hb ? +(g.wasm_bytes / hb).toFixed(3) : null,
  };
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a = Object.fromEntries(process.argv.slice(2).map((s) => s.split('=')).map(([kk, v]) => [kk, +v]));
  await benchMemory(a);
}
