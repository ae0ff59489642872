// parallel-throughput.mjs -- parallel apply throughput of openParallelReplica (deltavec/parallel) in Node:
// a stream of N inserts captured from a wasm primary (deltavec.wasm), applied with 0 (inline, mt module on the
// dispatcher worker), 1, 2 and 4 worker loops, and by the single-threaded module (threads: false) for reference.
// Every run starts from an empty replica and must end at the primary's state hash. With updates > 0 the primary
// then drifts random vectors by up to 1% (updates of values only, edges kept) and only those updates are timed,
// applied after the inserts (independent vectors: the case parallel apply splits over every thread).
// deltas/s = deltas / time inside dvw_par_apply_stream (dispatcher side, one call for the whole stream);
// "wall" adds copying the stream into shared memory and the message round trip. "feed": the same deltas
// pushed one by one through the feed ring (rep.push / pushAll) and flushed: wall time from the first push
// to the end of flush(), i.e. what a page pays when deltas arrive one at a time.
// Usage: node examples/node/parallel-throughput.mjs [inserts=20000] [dim=128] [rounds=3] [M=16] [efc=100] [updates=0]
import os from 'node:os';
import { load, hashHex } from '../../js/src/index.js';
import { openParallelReplicaFromStream } from '../../js/src/parallel.js';

const [n = 20000, dim = 128, rounds = 3, M = 16, efc = 100, updates = 0] = process.argv.slice(2).map(Number);
const cfg = { dim, M, efConstruction: efc, efSearch: 64, seed: 7 };

// Primary: N inserts of mulberry32 vectors, deltas polled as they are captured.
const dv = await load({ simd: true });
const db = dv.openDb(cfg);
const cap = db.startCapture();
const deltas = [];
let s = 0x5eed;
const rnd = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0); };
const v = new Float32Array(dim);
const tb = performance.now();
for (let i = 0; i < n; i++) {
  for (let j = 0; j < dim; j++) v[j] = (rnd() >>> 8) / 8388608 - 1;
  db.insert(`v${i}`, v);
  if (i % 128 === 127) { const got = cap.poll(256); deltas.push(...got); if (got.length) cap.release(cap.lastSequence); }
}
const drain = (into) => {
  cap.flush();
  for (;;) { const got = cap.poll(256); if (!got.length) break; into.push(...got); cap.release(cap.lastSequence); }
};
drain(deltas);
const upd = []; // the updates, when asked for
for (let i = 0; i < updates; i++) {
  const id = `v${rnd() % n}`;
  const x = db.get(id);
  for (let j = 0; j < dim; j++) x[j] += 0.01 * ((rnd() >>> 8) / 8388608 - 1);
  db.update(id, x);
  if (i % 128 === 127) { const got = cap.poll(256); upd.push(...got); if (got.length) cap.release(cap.lastSequence); }
}
drain(upd);
const buildMs = performance.now() - tb;
const want = hashHex(db.stateHash());
const stream = dv.writeStream(db, deltas); // header (the db config) + records
const timed = updates ? upd : deltas; // what is timed: the updates after the inserts, or the inserts
const timedStream = updates ? dv.writeStream(db, upd) : stream;
cap.close(); db.close();
console.log(`primary: ${n} inserts${updates ? ` + ${upd.length} drift updates (timed)` : ''} dim ${dim} M ${M} efc ${efc} in ${(buildMs / 1000).toFixed(1)} s; ${timed.length} timed deltas, ${(timedStream.length / 1048576).toFixed(1)} MiB; hash ${want}; ${os.cpus().length} CPUs`);

const configs = [
  { label: 'single-thread deltavec.wasm', opts: { threads: false, load: { simd: true } } },
  { label: 'mt, 0 (inline on dispatcher)', opts: { workers: 0 } },
  { label: 'mt, 1 worker loop', opts: { workers: 1 } },
  { label: 'mt, 2 worker loops', opts: { workers: 2 } },
  { label: 'mt, 4 worker loops', opts: { workers: 4 } },
];
const times = configs.map(() => ({ apply: [], wall: [], feed: [] }));
const median = (a) => { const b = a.slice().sort((x, y) => x - y); return b[b.length >> 1]; };
for (let r = 0; r < rounds; r++) {
  for (const [i, c] of configs.entries()) { // interleaved, so drift hits every config alike
    const rep = await openParallelReplicaFromStream(stream, { ...c.opts });
    if (updates) { const pre = await rep.applyStream(stream); if (!pre.ok) throw new Error(`${c.label}: inserts: ${pre.status}`); }
    const t0 = performance.now();
    const res = await rep.applyStream(timedStream);
    const wall = performance.now() - t0;
    const h = hashHex(await rep.stateHash());
    await rep.close();
    if (!res.ok || h !== want) throw new Error(`${c.label}: ${res.status} ${res.detail} hash ${h} != ${want}`);
    times[i].apply.push(res.ms);
    times[i].wall.push(wall);
    const fr = await openParallelReplicaFromStream(stream, { ...c.opts });
    if (updates) { const pre = await fr.applyStream(stream); if (!pre.ok) throw new Error(`${c.label} (feed): inserts: ${pre.status}`); }
    const f0 = performance.now();
    await fr.pushAll(timed);
    const fs = await fr.flush();
    const feedMs = performance.now() - f0;
    const fh = hashHex(await fr.stateHash());
    await fr.close();
    if (!fs.ok || fh !== want) throw new Error(`${c.label} (feed): ${fs.status} ${fs.detail} hash ${fh} != ${want}`);
    times[i].feed.push(feedMs);
  }
}
const base = median(times[0].apply);
const rows = configs.map((c, i) => {
  const a = median(times[i].apply), w = median(times[i].wall), f = median(times[i].feed);
  return { config: c.label, 'deltas/s': Math.round(timed.length / (a / 1000)), 'apply ms': +a.toFixed(0), 'wall ms': +w.toFixed(0),
    'vs single-thread': +(base / a).toFixed(2), 'feed ms': +f.toFixed(0), 'feed deltas/s': Math.round(timed.length / (f / 1000)) };
});
console.table(rows);
console.log(JSON.stringify({ inserts: n, updates: upd.length, dim, M, efc, deltas: deltas.length + upd.length, timed: timed.length, rounds, cpus: os.cpus().length, hash: want, rows }));
