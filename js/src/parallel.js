/*
 * parallel.js -- a replica whose structural apply runs on worker threads over one shared
 * WebAssembly.Memory (deltavec-mt.wasm; the parallel apply of section 8 of deltavec.h).
 *
 * Threads (startThreads in pool.js: compile once, instance 0 on this thread, every worker with its own
 * stack + TLS block):
 *   - this thread: instance 0. It only allocates and copies stream bytes into the shared memory, so it
 *     never blocks -- which is what a browser page's main thread requires (it may not Atomics.wait);
 *   - worker 0, the dispatcher-owner: opens the db + applier (dvw_par_open), applies every stream with one
 *     dv_apply_batch (dvw_par_apply_stream), answers position / hash / stats, stops the loops, closes;
 *   - workers 1..N: each blocks in dvw_par_worker_run (worker loop i) until close().
 * The core's wait/wake hooks are memory.atomic.wait32 / notify (wasm/exports_mt.c), so idle loops sleep.
 * workers < 2 means no loops: the dispatcher worker applies inline (same module, same memory).
 *
 * Fallback: where shared memory is unavailable (no SharedArrayBuffer, or a page that is not
 * cross-origin isolated) or opts.threads === false, the same API runs on this thread with the
 * single-threaded module (deltavec.wasm / deltavec-scalar.wasm): parallel = false and reason says why.
 *
 * Streams are docs/FORMAT.md section 10 files: 64-byte header + payload_size bytes, back to back
 * (concatDeltas builds one from a list of deltas). Calls are queued: one runs at a time.
 */
import { load, threadsSupported, DeltavecError } from './index.js';
import { startThreads } from './pool.js';

const RESULT_BYTES = 32;
const STATS_BYTES = 72;

/** Deltas of a stream buffer (views). A truncated tail is returned as `tail` (bytes), not as a delta. */
export function scanStream(u8) {
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const out = [];
  let off = 0;
  while (u8.length - off >= 64) {
    const size = dv.getUint32(off + 28, true);
    if (size > u8.length - off - 64) break;
    out.push(u8.subarray(off, off + 64 + size));
    off += 64 + size;
  }
  return { deltas: out, tail: u8.length - off };
}

/** A list of deltas (Uint8Array each: header + payload) as one stream buffer. */
export function concatDeltas(list) {
  let total = 0;
  for (const d of list) total += d.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const d of list) { out.set(d, off); off += d.length; }
  return out;
}

function metricOf(m) {
  if (m === undefined || m === null) return 0;
  if (typeof m === 'number') return m;
  const v = { l2: 0, ip: 1, cosine: 2 }[m];
  if (v === undefined) throw new DeltavecError(-1, 'DV_EINVAL', `unknown metric ${m}`, 'openParallelReplica');
  return v;
}

class Queue {
  constructor() { this.tail = Promise.resolve(); }
  run(fn) {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => {});
    return p;
  }
}

function resultOf(r) {
  const failed = r.status !== 0;
  return {
    ok: !failed, status: r.statusName, deltas: r.deltas, applied: r.applied, duplicates: r.duplicates,
    position: r.position, failedAt: failed ? r.failedAt : -1,
    failedSequence: failed ? (BigInt(r.seqHi) << 32n) | BigInt(r.seqLo) : null,
    detail: r.detail, ms: r.ms,
  };
}

/** Replica on worker threads over shared memory (see the file comment). */
export class ParallelReplica {
  constructor(t, h, workers, loops) {
    this.t = t;
    this.h = h;
    this.parallel = loops >= 2;
    this.shared = true;
    this.workers = workers;
    this.loops = loops;
    this.reason = loops >= 2 ? null : 'workers < 2: inline apply on the dispatcher worker';
    this.q = new Queue();
    this.loopDone = [];
    this.loopStatus = [];
    this.bufPtr = 0;
    this.bufCap = 0;
    const x = t.rt.x;
    this.res = x.dvw_alloc(RESULT_BYTES);
    this.out = x.dvw_alloc(16);
    this.stats_ = x.dvw_alloc(STATS_BYTES);
  }
  get dispatcher() { return this.t.ports[0]; }
  _live() { if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'replica is closed', 'parallelReplica'); }

  /**
   * Applies a stream buffer (Uint8Array, FORMAT.md stream file). Resolves to {ok, status, deltas, applied,
   * duplicates, position, failedAt, failedSequence, detail, ms}; a refusal is reported, not thrown, and leaves
   * the replica at the state after the last good delta (position = its sequence).
   */
  applyStream(bytes) {
    return this.q.run(async () => {
      this._live();
      const x = this.t.rt.x;
      if (bytes.length > this.bufCap) {
        if (this.bufPtr) x.dvw_free(this.bufPtr);
        this.bufCap = Math.max(bytes.length, this.bufCap * 2, 65536);
        this.bufPtr = x.dvw_alloc(this.bufCap);
        if (!this.bufPtr) { this.bufCap = 0; throw new DeltavecError(-2, 'DV_ENOMEM', 'shared memory full (opts.memoryBytes)', 'applyStream'); }
      }
      this.t.rt.u8.set(bytes, this.bufPtr);
      const r = await this.dispatcher.request({ cmd: 'par-apply', h: this.h, buf: this.bufPtr, len: bytes.length, res: this.res, out: this.out });
      return resultOf(r);
    });
  }
  /** {position, hash, count, running, stats: {applied, ..., parallelDeltas, barriers, epochs, edgeOps}}. */
  info() {
    return this.q.run(async () => {
      this._live();
      return this.dispatcher.request({ cmd: 'par-info', h: this.h, out: this.out, stats: this.stats_ });
    });
  }
  async stateHash() { return (await this.info()).hash; }
  async position() { return (await this.info()).position; }
  async stats() { return (await this.info()).stats; }
  /** Stops the worker loops, frees the replica and its db, ends the workers. */
  close() {
    return this.q.run(async () => {
      if (!this.h) return;
      const t = this.t, x = t.rt.x;
      try {
        await this.dispatcher.request({ cmd: 'par-stop', h: this.h });
        this.loopStatus = (await Promise.all(this.loopDone)).map((m) => m.st);
        await this.dispatcher.request({ cmd: 'par-close', h: this.h });
      } finally {
        this.h = 0;
        for (const p of t.ports) p.terminate();
        for (const s of t.stacks) x.dvw_free(s);
        for (const p of [this.bufPtr, this.res, this.out, this.stats_]) if (p) x.dvw_free(p);
        this.bufPtr = 0;
      }
    });
  }
}

/** Same API on one thread with the single-threaded module (no shared memory). */
export class FallbackReplica {
  constructor(rep, workers, reason) {
    this.rep = rep;
    this.parallel = false;
    this.shared = false;
    this.workers = workers;
    this.loops = 0;
    this.reason = reason;
  }
  async applyStream(bytes) {
    const rep = this.rep;
    const t0 = performance.now();
    const { deltas, tail } = scanStream(bytes);
    const res = deltas.length ? rep.applyBatch(deltas) : [];
    const ms = performance.now() - t0;
    let applied = 0, duplicates = 0, failedAt = -1, status = 'DV_OK';
    res.forEach((s, i) => {
      if (s === 'DV_OK') applied++;
      else if (s === 'DV_EDUPLICATE') duplicates++;
      else if (failedAt < 0) { failedAt = i; status = s; }
    });
    if (failedAt < 0 && tail) { failedAt = deltas.length; status = 'DV_ETRUNCATED'; }
    const failed = failedAt >= 0;
    let failedSequence = null;
    if (failed && failedAt < deltas.length) failedSequence = new DataView(deltas[failedAt].buffer, deltas[failedAt].byteOffset, 8).getBigUint64(0, true);
    return { ok: !failed, status, deltas: deltas.length + (tail ? 1 : 0), applied, duplicates, position: rep.position,
      failedAt, failedSequence, detail: failed && failedAt < deltas.length ? rep.lastError : null, ms };
  }
  async info() {
    return { position: this.rep.position, hash: this.rep.stateHash(), count: this.rep.db.count, running: 0, stats: this.rep.stats() };
  }
  async stateHash() { return this.rep.stateHash(); }
  async position() { return this.rep.position; }
  async stats() { return this.rep.stats(); }
  async close() { this.rep.close(); }
}

/**
 * Opens an empty replica with the primary's config ({dim, metric, M, efConstruction, efSearch, seed}) that
 * applies streams with `workers` worker loops (default 4; 1 = inline on the dispatcher worker).
 * opts.threads === false forces the one-thread fallback; opts.url: base URL of dist/; opts.epochMax;
 * opts.load: options for load() in the fallback; opts.quiet: no console warning on fallback;
 * opts.memoryBytes: size of the shared memory, fixed for the replica's life (default 256 MiB; when it is full
 * the apply refuses with DV_ENOMEM and the replica stays at the last good state).
 */
export async function openParallelReplica(opts) {
  const o = opts || {};
  const workers = o.workers === undefined ? 4 : o.workers;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new DeltavecError(-1, 'DV_EINVAL', 'workers must be 1..64', 'openParallelReplica');
  let reason = null;
  if (o.threads === false) reason = 'threads disabled by option: one thread, single-threaded module';
  else if (!threadsSupported()) reason = 'SharedArrayBuffer unavailable (not cross-origin isolated): one thread, single-threaded module';
  if (reason) {
    if (typeof console !== 'undefined' && !o.quiet && o.threads !== false) console.warn(`deltavec: ${reason}`);
    const dv = await load(o.load);
    return new FallbackReplica(dv.openReplica(o), workers, reason);
  }
  const loops = workers >= 2 ? workers : 0;
  // The shared memory has a fixed size (opts.memoryBytes, default 256 MiB): see memoryPages in pool.js.
  const t = await startThreads(1 + loops, o);
  const x = t.rt.x;
  const out = x.dvw_alloc(16);
  let h = 0;
  try {
    const seed = o.seed === undefined || o.seed === null ? 42n : BigInt.asUintN(64, BigInt(o.seed));
    const r = await t.ports[0].request({ cmd: 'par-open', dim: o.dim, metric: metricOf(o.metric), M: o.M || 0,
      efc: o.efConstruction || 0, efs: o.efSearch || 0, seed, workers: loops, epochMax: o.epochMax || 0, out });
    if (r.st) throw new DeltavecError(r.st, r.name, 'cannot open the parallel replica', 'openParallelReplica');
    h = r.h;
    if (r.loops !== loops) throw new Error(`deltavec: applier has ${r.loops} worker loops, expected ${loops}`);
    const rep = new ParallelReplica(t, h, workers, loops);
    for (let i = 0; i < loops; i++) rep.loopDone.push(t.ports[1 + i].request({ cmd: 'par-run', h, index: i }));
    if (loops) await t.ports[0].request({ cmd: 'par-wait', h, n: loops });
    return rep;
  } catch (e) {
    if (h) {
      try { await t.ports[0].request({ cmd: 'par-stop', h }); } catch { /* ignore */ }
    }
    for (const p of t.ports) p.terminate();
    throw e;
  } finally {
    x.dvw_free(out);
  }
}
