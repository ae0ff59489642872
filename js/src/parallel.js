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
 * The dispatcher worker applies a share itself (updates of values only, by id), so workers = N loops make
 * N + 1 applying threads: on 2 cores, workers 1. workers 0 means no loops: the dispatcher worker applies
 * inline (same module, same memory).
 *
 * Fallback: where shared memory is unavailable (no SharedArrayBuffer, or a page that is not
 * cross-origin isolated) or opts.threads === false, the same API runs on this thread with the
 * single-threaded module (deltavec.wasm / deltavec-scalar.wasm): parallel = false and reason says why.
 *
 * Two ways in:
 *   - applyStream(bytes): a docs/FORMAT.md section 10 stream (stream header, then records; writeStream of
 *     index.js builds one), copied into shared memory, framed by the core's stream reader and applied in one
 *     message (the header is checked against the replica first: DV_ECONFIG); answers per call;
 *   - push(delta) / pushAll(deltas) + flush(): the feed (wasm/feed_mt.c). Each delta is written straight into
 *     an SPSC dv_ring in the shared memory, on this thread, without blocking; the dispatcher worker applies
 *     from the ring (one message only when it was idle). For deltas arriving one by one (a socket, a page).
 * Calls of the first kind are queued: one runs at a time.
 */
import { load, threadsSupported, DeltavecError, putStreamInfo, streamResultOf, Deltavec } from './index.js';
import { startThreads } from './pool.js';

const RESULT_BYTES = 256; // dvw_stream_result (wasm/dvw.h)
const STREAM_INFO_SIZE = 80;
const STATS_BYTES = 80; // 10 x u64, wasm/exports.c dvw_apply_stats_write
const DV_EINVAL = -1, DV_EFULL = -9, DV_ETRUNCATED = -11;
/* Shared words of a dvw_feed (wasm/feed_mt.c), u32 each. */
const F_RUNNING = 0, F_CONSUMED = 1, F_APPLIED = 2, F_DUPLICATES = 3, F_REFUSED = 4, F_FIRST_STATUS = 5;
const F_SEQ_LO = 6, F_SEQ_HI = 7, F_POS_LO = 8, F_POS_HI = 9, F_DRAINS = 10;
export const DEFAULT_FEED_BYTES = 4 * 1024 * 1024;

/** Payload bytes of the feed ring: the power of two >= bytes, 64 KiB .. 256 MiB (largest delta: half of it). */
function feedBytesOf(bytes) {
  const b = bytes === undefined ? DEFAULT_FEED_BYTES : bytes;
  if (!Number.isFinite(b) || b < 65536 || b > 256 * 1024 * 1024) {
    throw new RangeError(`deltavec: feedBytes must be 64 KiB .. 256 MiB (got ${bytes})`);
  }
  let p = 65536;
  while (p < b) p *= 2;
  return p;
}

/* What push accepts (both replica kinds): a Uint8Array of at least a header. */
function checkDelta(delta) {
  if (!(delta instanceof Uint8Array)) throw new DeltavecError(DV_EINVAL, 'DV_EINVAL', 'push takes a Uint8Array', 'push');
  if (delta.length < 64) throw new DeltavecError(DV_ETRUNCATED, 'DV_ETRUNCATED', 'a delta is at least its 64-byte header', 'push');
}

/*
 * pushAll's argument: a list of deltas, or a stream (header + records) read by the core's reader on rt and
 * checked with check(info) (DV_ECONFIG) before any delta is pushed. Problems throw (DeltavecError, .offset).
 */
function deltaList(rt, deltas, check) {
  if (!(deltas instanceof Uint8Array)) return deltas;
  const { info, deltas: list } = new Deltavec(rt).readStream(deltas);
  check(info);
  return list;
}

/* Counters of the feed since open, as a plain object (shared by both replica kinds). */
function feedStatusOf(c) {
  const failed = c.firstStatus !== 'DV_OK';
  return { ok: !failed, status: c.firstStatus, pushed: c.pushed, consumed: c.consumed, applied: c.applied,
    duplicates: c.duplicates, refused: c.refused, position: c.position, failedSequence: failed ? c.failedSequence : null,
    detail: failed ? c.detail : null, drains: c.drains };
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

/** Replica on worker threads over shared memory (see the file comment). */
export class ParallelReplica {
  constructor(t, h, workers, loops) {
    this.t = t;
    this.h = h;
    this.parallel = loops >= 1;
    this.shared = true;
    this.workers = workers;
    this.loops = loops;
    this.reason = loops >= 1 ? null : 'workers 0: inline apply on the dispatcher worker';
    this.q = new Queue();
    this.loopDone = [];
    this.loopStatus = [];
    this.bufPtr = 0;
    this.bufCap = 0;
    this.feed = 0;
    this.pushed = 0;
    /** The stream header it was opened from (openParallelReplicaFromStream), else null. */
    this.streamInfo = null;
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
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
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
      const res = streamResultOf(this.t.rt, this.res, r.position, r.ms, () => r.detail);
      delete res.statusCode;
      return res;
    });
  }
  _words() { return new Int32Array(this.t.rt.memory.buffer, this.feed, 16); }

  /**
   * Hands one delta (Uint8Array: 64-byte header + payload) to the dispatcher through the feed ring in shared
   * memory. Synchronous and never blocks (fine on a page's main thread): false when the ring is full (await
   * room() or use pushAll). Throws DeltavecError DV_ETRUNCATED for less than a header, DV_ETOOBIG for a delta
   * larger than half the feed (opts.feedBytes). Results come from flush() / feedStatus().
   */
  push(delta) {
    this._live();
    checkDelta(delta);
    const rt = this.t.rt, x = rt.x, plen = delta.length - 64;
    const st = x.dvw_feed_reserve(this.feed, plen);
    if (st === DV_EFULL) return false;
    rt.check(st, 'push');
    const u8 = rt.u8;
    u8.set(delta.subarray(0, 64), x.dvw_feed_reserved_header(this.feed));
    if (plen) u8.set(delta.subarray(64), x.dvw_feed_reserved_payload(this.feed));
    const r = x.dvw_feed_commit(this.feed, plen);
    if (r < 0) rt.check(r, 'push');
    this.pushed = (this.pushed + 1) >>> 0;
    if (r === 1) this.dispatcher.send({ cmd: 'feed-drain', feed: this.feed });
    return true;
  }

  /* Resolves once done(shared word i) holds. The dispatcher notifies `consumed` after every feed batch and
   * `running` when it drops to 0 (feed_mt.c); Atomics.waitAsync where the engine has it, else polling. */
  async _awaitWord(i, done) {
    const w = this._words();
    for (;;) {
      if (this.dispatcher.feedError) throw new Error(`deltavec: the dispatcher's feed drain failed: ${this.dispatcher.feedError}`);
      const v = Atomics.load(w, i);
      if (done(v >>> 0)) return;
      if (typeof Atomics.waitAsync === 'function') {
        const r = Atomics.waitAsync(w, i, v, 200);
        if (r.async) await r.value;
      } else {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  }
  _awaitConsumed(done) { return this._awaitWord(F_CONSUMED, done); }
  /** Resolves when the dispatcher has taken something out of the ring since the call. */
  room() {
    const c0 = Atomics.load(this._words(), F_CONSUMED) >>> 0;
    return this._awaitConsumed((c) => c !== c0 || c === this.pushed);
  }
  /**
   * Pushes every delta of a list, or of a stream (header + records: its config is checked first, DV_ECONFIG),
   * waiting for room when the ring is full.
   */
  async pushAll(deltas) {
    this._live();
    const rt = this.t.rt;
    const list = deltaList(rt, deltas, (info) => {
      refuseLogical(info);
      rt.reset(); rt.reserve(STREAM_INFO_SIZE + 512);
      const pi = rt.take(STREAM_INFO_SIZE), msg = rt.take(256);
      putStreamInfo(rt, info, pi);
      const st = rt.x.dvw_stream_check_db(pi, rt.x.dvw_par_db(this.h), msg, 256);
      if (st !== 0) throw new DeltavecError(st, rt.statusName(st), rt.str(msg) || rt.str(rt.x.dvw_strerror(st)), 'pushAll');
    });
    for (const d of list) while (!this.push(d)) await this.room();
    return list.length;
  }
  /**
   * Resolves when every pushed delta has been answered and the dispatcher is idle: feedStatus() then. clear
   * (default true) forgets the
   * first refusal afterwards, so the next flush reports only newer ones.
   */
  async flush({ clear = true } = {}) {
    this._live();
    const target = this.pushed;
    await this._awaitConsumed((c) => c === target);
    await this._awaitWord(F_RUNNING, (r) => r === 0); // the drain has returned
    const st = this.feedStatus();
    if (clear && !st.ok) this.t.rt.x.dvw_feed_clear(this.feed);
    return st;
  }
  /**
   * The feed's counters since open: {ok, status, pushed, consumed, applied, duplicates, refused, position,
   * failedSequence, detail}. status/failedSequence/detail: the first refusal since the last flush (a refused
   * delta leaves the replica at the last good state; every later one is refused as DV_EGAP until the missing
   * sequence arrives: re-push from failedSequence). position: after the last feed batch.
   */
  feedStatus() {
    const w = this._words(), rt = this.t.rt;
    const u = (i) => Atomics.load(w, i) >>> 0;
    const first = Atomics.load(w, F_FIRST_STATUS);
    return feedStatusOf({ firstStatus: rt.statusName(first), pushed: this.pushed, consumed: u(F_CONSUMED),
      applied: u(F_APPLIED), duplicates: u(F_DUPLICATES), refused: u(F_REFUSED),
      position: (BigInt(u(F_POS_HI)) << 32n) | BigInt(u(F_POS_LO)),
      failedSequence: (BigInt(u(F_SEQ_HI)) << 32n) | BigInt(u(F_SEQ_LO)),
      detail: first ? rt.str(rt.x.dvw_feed_detail(this.feed)) : null, drains: u(F_DRAINS) });
  }
  /** true while the dispatcher is applying from the feed (or one drain message is on its way). */
  get feeding() { return Atomics.load(this._words(), F_RUNNING) !== 0; }

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
        if (this.feed && !this.dispatcher.feedError) await this._awaitConsumed((c) => c === this.pushed);
        await this.dispatcher.request({ cmd: 'par-stop', h: this.h });
        this.loopStatus = (await Promise.all(this.loopDone)).map((m) => m.st);
        await this.dispatcher.request({ cmd: 'par-close', h: this.h });
      } finally {
        this.h = 0;
        for (const p of t.ports) p.terminate();
        for (const s of t.stacks) x.dvw_free(s);
        for (const p of [this.bufPtr, this.res, this.out, this.stats_]) if (p) x.dvw_free(p);
        if (this.feed) x.dvw_feed_close(this.feed);
        this.feed = 0;
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
    this.streamInfo = rep.streamInfo;
  }
  async applyStream(bytes) {
    const res = this.rep._applyStreamResult(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
    delete res.statusCode;
    return res;
  }
  /* The feed API on one thread: push applies at once (same answers as the ring feed, in the same order). */
  _feedCounters() {
    if (!this.fc) this.fc = { firstStatus: 'DV_OK', pushed: 0, consumed: 0, applied: 0, duplicates: 0, refused: 0, failedSequence: 0n, detail: null, drains: 0 };
    return this.fc;
  }
  push(delta) {
    checkDelta(delta);
    const c = this._feedCounters();
    const [st] = this.rep.applyBatch([delta]);
    c.pushed++; c.consumed++;
    if (st === 'DV_OK') c.applied++;
    else if (st === 'DV_EDUPLICATE') c.duplicates++;
    else {
      c.refused++;
      if (c.firstStatus === 'DV_OK') {
        c.firstStatus = st;
        c.failedSequence = new DataView(delta.buffer, delta.byteOffset, 8).getBigUint64(0, true);
        c.detail = this.rep.lastError;
      }
    }
    return true;
  }
  async room() {}
  async pushAll(deltas) {
    const list = deltaList(this.rep.rt, deltas, (info) => this.rep.beginStream(info));
    for (const d of list) this.push(d);
    return list.length;
  }
  async flush({ clear = true } = {}) {
    const st = this.feedStatus();
    if (clear && !st.ok) Object.assign(this._feedCounters(), { firstStatus: 'DV_OK', failedSequence: 0n, detail: null });
    return st;
  }
  feedStatus() { return feedStatusOf({ ...this._feedCounters(), position: this.rep.position }); }
  get feeding() { return false; }
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
 * applies streams with `workers` worker loops beside the dispatcher worker, which applies a share too
 * (default 4; on 2 cores, 1; 0 = inline on the dispatcher worker).
 * opts.threads === false forces the one-thread fallback; opts.url: base URL of dist/; opts.epochMax; opts.minRun
 * (dv_apply_config.min_run: runs shorter than this between deletes go inline; default 64, 1 = always parallel);
 * opts.load: options for load() in the fallback; opts.quiet: no console warning on fallback;
 * opts.memoryBytes: size of the shared memory, fixed for the replica's life (default 256 MiB; when it is full
 * the apply refuses with DV_ENOMEM and the replica stays at the last good state); opts.feedBytes: payload bytes
 * of the feed ring (default 4 MiB, rounded up to a power of two; the largest delta push takes is half of it).
 */
export async function openParallelReplica(opts) { return openParallel(opts || {}, null); }

/**
 * openParallelReplica with the db config of a stream header (bytes starting with one, or a stream info from
 * readStream / StreamReader.info / Db.streamInfo): dim, metric, M, efConstruction, seed and relinkRatio exactly
 * as the primary's. opts: as openParallelReplica's (efSearch, workers, threads, ...). A logical stream is refused
 * (DV_ECONFIG): this replica applies structurally.
 */
export async function openParallelReplicaFromStream(source, opts) { return openParallel(opts || {}, source); }

async function openParallel(o, source) {
  const workers = o.workers === undefined ? 4 : o.workers;
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new DeltavecError(-1, 'DV_EINVAL', 'workers must be 0..64', 'openParallelReplica');
  const feedBytes = feedBytesOf(o.feedBytes);
  let reason = null;
  if (o.threads === false) reason = 'threads disabled by option: one thread, single-threaded module';
  else if (!threadsSupported()) reason = 'SharedArrayBuffer unavailable (not cross-origin isolated): one thread, single-threaded module';
  if (reason) {
    if (typeof console !== 'undefined' && !o.quiet && o.threads !== false) console.warn(`deltavec: ${reason}`);
    const dv = await load(o.load);
    if (source) {
      const info = isBytes(source) ? dv.streamInfo(source) : source;
      refuseLogical(info);
      return new FallbackReplica(dv.openReplicaFromStream(info, { ...o, mode: 'structural' }), workers, reason);
    }
    return new FallbackReplica(dv.openReplica(o), workers, reason);
  }
  const loops = workers;
  // The shared memory has a fixed size (opts.memoryBytes, default 256 MiB): see memoryPages in pool.js.
  const t = await startThreads(1 + loops, o);
  const x = t.rt.x;
  const out = x.dvw_alloc(16);
  let h = 0, infoPtr = 0, info = null;
  try {
    if (source) {
      info = isBytes(source) ? new Deltavec(t.rt).streamInfo(source) : source;
      refuseLogical(info);
      infoPtr = x.dvw_alloc(STREAM_INFO_SIZE);
      putStreamInfo(t.rt, info, infoPtr);
    }
    const seed = o.seed === undefined || o.seed === null ? 42n : BigInt.asUintN(64, BigInt(o.seed));
    const r = await t.ports[0].request({ cmd: 'par-open', info: infoPtr, dim: o.dim, metric: source ? 0 : metricOf(o.metric), M: o.M || 0,
      efc: o.efConstruction || 0, efs: o.efSearch || 0, seed, workers: loops, epochMax: o.epochMax || 0, minRun: o.minRun || 0, out });
    if (r.st) throw new DeltavecError(r.st, r.name, 'cannot open the parallel replica', 'openParallelReplica');
    h = r.h;
    if (r.loops !== loops) throw new Error(`deltavec: applier has ${r.loops} worker loops, expected ${loops}`);
    const rep = new ParallelReplica(t, h, workers, loops);
    rep.streamInfo = info;
    t.rt.check(x.dvw_feed_open(h, 0, feedBytes, out), 'openParallelReplica (feed)');
    rep.feed = t.rt.u32[out >>> 2];
    for (let i = 0; i < loops; i++) rep.loopDone.push(t.ports[1 + i].request({ cmd: 'par-run', h, index: i }));
    if (loops) {
      // A loop that cannot start (DV_ENOMEM: its queue does not fit in memoryBytes) returns at once: fail fast
      // with its status instead of waiting for par-wait's deadline.
      const loopFailure = new Promise((_, reject) => rep.loopDone.forEach((p, i) => p.then((m) => {
        if (m.st) reject(new DeltavecError(m.st, t.rt.statusName(m.st), `worker loop ${i} could not start (memoryBytes too small?)`, 'openParallelReplica'));
      }, reject)));
      loopFailure.catch(() => {}); // after a successful open, a loop's end is close()'s business
      await Promise.race([t.ports[0].request({ cmd: 'par-wait', h, n: loops }), loopFailure]);
    }
    return rep;
  } catch (e) {
    // Nothing else uses this memory: ending the workers frees everything (no par-stop: the dispatcher may
    // still be inside par-wait).
    for (const p of t.ports) p.terminate();
    throw e;
  } finally {
    x.dvw_free(out);
    if (infoPtr) x.dvw_free(infoPtr);
  }
}

function isBytes(v) { return v instanceof Uint8Array || v instanceof ArrayBuffer; }

function refuseLogical(info) {
  if (info.mode === 'logical' || info.mode === 1) {
    throw new DeltavecError(-27, 'DV_ECONFIG', 'a logical stream has no graph parts: a parallel replica applies structurally', 'openParallelReplicaFromStream');
  }
}
