// app.js -- the browser example: a wasm replica fed by a streamed delta file.
import { load, hashHex, threadsSupported } from '/js/src/index.js';
import { openParallelReplica } from '/js/src/parallel.js';

const $ = (id) => document.getElementById(id);
const state = { done: false, error: null };
window.__deltavec = state;

function pct(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0; }

async function main() {
  const dv = await load();
  $('module').textContent = `${dv.flavor === 'simd' ? 'deltavec.wasm' : 'deltavec-scalar.wasm'} (${dv.backend}), v${dv.rt.version}`;
  state.backend = dv.backend;
  const exp = await (await fetch('/vectors/native.json')).json();
  $('expected').textContent = exp.final_hash;
  state.expected = exp.final_hash;
  const replica = dv.openReplica(exp);

  // Threads: run the shared-memory worker pool check when the page is cross-origin isolated.
  if (threadsSupported()) {
    try {
      const { createPool } = await import('/js/src/pool.js');
      const pool = await createPool({ workers: 2 });
      const r = await pool.selfTest({ rows: 4096, dim: 64 });
      state.pool = r;
      $('threads').textContent = `${pool.threads} workers on one shared WebAssembly.Memory; parallel L2 over ${r.rows} rows ${r.ok ? 'matches' : 'DIFFERS from'} single-thread; every worker built the same HNSW db: ${r.dbOk}`;
      pool.close();
    } catch (e) {
      $('threads').textContent = `worker pool failed: ${e.message}`;
      state.pool = { ok: false, error: String(e) };
    }
  } else {
    $('threads').textContent = 'SharedArrayBuffer unavailable (page not cross-origin isolated): one thread';
    state.pool = { ok: false, fallback: true };
  }

  // The parallel replica: a dispatcher Web Worker + 4 worker loops over one shared memory. Every delta that
  // arrives is pushed into the feed ring in that memory (this page's main thread never blocks: push only copies
  // bytes in); the dispatcher applies from the ring. Without cross-origin isolation it falls back to one thread.
  // minRun 1: every run between deletes goes to the worker loops, so this page exercises them (the default,
  // 64, applies this delete-heavy stream mostly inline, which is faster on few cores).
  const par = await openParallelReplica({ ...exp, workers: 4, minRun: 1, quiet: true });
  state.parallel = { parallel: par.parallel, shared: par.shared, workers: par.workers, reason: par.reason };
  $('parmode').textContent = par.parallel ? `${par.workers} worker loops + a dispatcher worker on one shared WebAssembly.Memory`
    : `one thread: ${par.reason}`;
  let pushed = 0, waitedForRoom = 0, feedStart = 0;

  // Stream the file and apply each complete record as soon as it has arrived.
  const res = await fetch('/vectors/native.dvs');
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  const lat = [];
  const query = new Float32Array(exp.dim).fill(0.1);
  let lastUi = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (value) {
      const nb = new Uint8Array(buf.length + value.length);
      nb.set(buf); nb.set(value, buf.length); buf = nb;
      let off = 0;
      const dvw = new DataView(buf.buffer);
      while (off + 4 <= buf.length) {
        const len = dvw.getUint32(off, true);
        if (off + 4 + len > buf.length) break;
        const t0 = performance.now();
        replica.apply(buf.subarray(off + 4, off + 4 + len));
        lat.push(performance.now() - t0);
        if (!feedStart) feedStart = performance.now();
        const delta = buf.subarray(off + 4, off + 4 + len);
        while (!par.push(delta)) { waitedForRoom++; await par.room(); } // ring full: wait for the dispatcher
        pushed++;
        off += 4 + len;
      }
      buf = buf.slice(off);
      if (performance.now() - lastUi > 50) {
        lastUi = performance.now();
        $('position').textContent = String(replica.position);
        $('count').textContent = String(replica.db.count);
        await new Promise((r) => setTimeout(r, 0)); // let the page paint while deltas arrive
      }
    }
    if (done) break;
  }
  const t0 = performance.now();
  let hits = [];
  for (let i = 0; i < 100; i++) { query[i % exp.dim] += 0.01; hits = replica.search(query, 10); }
  const searchMs = (performance.now() - t0) / 100;
  const sorted = lat.slice().sort((a, b) => a - b);
  const hash = hashHex(replica.stateHash());
  Object.assign(state, { position: Number(replica.position), count: replica.db.count, hash,
    applyMedianUs: pct(sorted, 0.5) * 1000, applyP99Us: pct(sorted, 0.99) * 1000, searchUs: searchMs * 1000,
    top: hits.slice(0, 3) });
  $('position').textContent = String(replica.position);
  $('count').textContent = String(replica.db.count);
  $('latency').textContent = `median ${(pct(sorted, 0.5) * 1000).toFixed(1)} µs, p99 ${(pct(sorted, 0.99) * 1000).toFixed(1)} µs over ${lat.length} deltas (timer resolution applies)`;
  $('search').textContent = `top-10 in ${(searchMs * 1000).toFixed(0)} µs; nearest: ${hits.slice(0, 3).map((h) => `${h.id} (${h.distance.toFixed(3)})`).join(', ')}`;
  $('hash').textContent = hash;
  const ok = hash === exp.final_hash;
  $('result').innerHTML = ok ? '<span class="ok">replica hash == native primary hash</span>' : '<span class="bad">HASH MISMATCH</span>';
  state.ok = ok;
  replica.close();

  const feed = await par.flush(); // every pushed delta answered
  const pms = performance.now() - feedStart;
  const pinfo = await par.info();
  const phash = hashHex(pinfo.hash);
  Object.assign(state.parallel, { hash: phash, position: Number(pinfo.position), pushed, waitedForRoom,
    feedMs: pms, deltasPerSec: pushed / (pms / 1000), stats: pinfo.stats,
    error: feed.ok ? null : `${feed.status}: ${feed.detail}`, ok: feed.ok && phash === exp.final_hash });
  $('parhash').innerHTML = `${phash} at position ${pinfo.position} (${pushed} deltas pushed as they arrived, ` +
    `${pms.toFixed(0)} ms from first push to flush, ${pinfo.stats.parallelDeltas ?? 0} through the parallel path, ` +
    `${pinfo.stats.edgeOps ?? 0} edge ops to workers) ` +
    (state.parallel.ok ? '<span class="ok">== native primary hash</span>' : `<span class="bad">MISMATCH ${feed.status}</span>`);
  await par.close();
  state.done = true;
}

main().catch((e) => { state.error = String(e && e.stack || e); state.done = true; $('result').textContent = `error: ${e}`; });
