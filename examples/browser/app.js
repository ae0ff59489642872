// app.js -- the browser example: wasm replicas created from the header of a streamed stream file
// (docs/FORMAT.md section 10) and fed its records as they arrive, read by the core's stream reader.
import { load, hashHex, threadsSupported } from '/js/src/index.js';
import { openParallelReplicaFromStream } from '/js/src/parallel.js';

const $ = (id) => document.getElementById(id);
const state = { done: false, error: null };
window.__deltavec = state;

function pct(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0; }

async function main() {
  const dv = await load();
  $('module').textContent = `${dv.flavor === 'simd' ? 'deltavec.wasm' : 'deltavec-scalar.wasm'} (${dv.backend}), v${dv.rt.version}`;
  state.backend = dv.backend;
  const exp = await (await fetch('/vectors/native.json')).json(); // only the expected hash: the config comes from the stream
  $('expected').textContent = exp.final_hash;
  state.expected = exp.final_hash;

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

  // Stream the file through the core's stream reader (in wasm): chunks go in as they arrive, records come out.
  // Its header carries the primary's db config: both replicas are created from it, before any record.
  // The parallel replica: a dispatcher Web Worker + 4 worker loops over one shared memory. Every record that
  // arrives is pushed into the feed ring in that memory (this page's main thread never blocks: push only copies
  // bytes in); the dispatcher applies from the ring. Without cross-origin isolation it falls back to one thread.
  // minRun 1: every run between deletes goes to the worker loops, so this page exercises them (the default,
  // 64, applies this delete-heavy stream mostly inline, which is faster on few cores).
  const res = await fetch('/vectors/native.dvs');
  const body = res.body.getReader();
  const reader = dv.streamReader();
  let replica = null, par = null;
  let pushed = 0, waitedForRoom = 0, feedStart = 0, chunks = 0;
  const lat = [];
  let query = null;
  let lastUi = 0;
  for (;;) {
    const { value, done } = await body.read();
    if (value) {
      chunks++;
      reader.push(value);
      if (!replica && reader.info) {
        const info = reader.info;
        state.info = { ...info, seed: String(info.seed), firstSequence: String(info.firstSequence) };
        $('config').textContent = `dim ${info.dim}, ${info.metric}, M ${info.M}, ef_construction ${info.efConstruction}, ` +
          `seed ${info.seed}, relink ${info.relinkRatio}, ${info.mode}, first sequence ${info.firstSequence}, ` +
          `written by v${Math.floor(info.producerVersion / 10000)}.${Math.floor(info.producerVersion / 100) % 100}.${info.producerVersion % 100}`;
        replica = dv.openReplicaFromStream(info);
        query = new Float32Array(info.dim).fill(0.1);
        par = await openParallelReplicaFromStream(info, { workers: 4, minRun: 1, quiet: true });
        state.parallel = { parallel: par.parallel, shared: par.shared, workers: par.workers, reason: par.reason };
        $('parmode').textContent = par.parallel ? `${par.workers} worker loops + a dispatcher worker on one shared WebAssembly.Memory`
          : `one thread: ${par.reason}`;
      }
      for (const delta of reader) {
        const t0 = performance.now();
        replica.apply(delta);
        lat.push(performance.now() - t0);
        if (!feedStart) feedStart = performance.now();
        while (!par.push(delta)) { waitedForRoom++; await par.room(); } // ring full: wait for the dispatcher
        pushed++;
      }
      if (replica && performance.now() - lastUi > 50) {
        lastUi = performance.now();
        $('position').textContent = String(replica.position);
        $('count').textContent = String(replica.db.count);
        await new Promise((r) => setTimeout(r, 0)); // let the page paint while records arrive
      }
    }
    if (done) break;
  }
  state.streamBytes = reader.finish(); // throws DV_ETRUNCATED (with its offset) for a torn file
  state.chunks = chunks;
  reader.close();
  const t0 = performance.now();
  let hits = [];
  for (let i = 0; i < 100; i++) { query[i % query.length] += 0.01; hits = replica.search(query, 10); }
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
