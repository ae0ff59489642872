/*
 * deltavec for JavaScript: the C core compiled to WebAssembly, wrapped.
 *
 * One wasm instance (per load()) holds any number of dbs, captures and
 * replicas; every object owns C memory and must be closed (close()).
 * Nothing is freed by the garbage collector. Calls are synchronous; only
 * loading is async.
 *
 * ABI: wasm/exports.c, documented in docs/WASM.md. Strings and arrays are
 * copied into a per-instance scratch area (reused by every call, grown when
 * needed), so steady-state calls do not allocate C memory.
 *
 * Works in Node >= 20 and in browsers without a bundler: the Node-only
 * modules are imported dynamically only when running under Node.
 */

import { isNode } from './host.js';

/** Error thrown for every failed C call; .code is the C status name (e.g. "DV_EEXIST"). */
export class DeltavecError extends Error {
  constructor(status, code, message, where) {
    super(`${where ? where + ': ' : ''}${code}: ${message}`);
    this.name = 'DeltavecError';
    this.status = status;
    this.code = code;
  }
}

export const Metric = Object.freeze({ L2: 0, IP: 1, COSINE: 2 });
export const CaptureParts = Object.freeze({ VECTORS: 1, METADATA: 2, HNSW: 4, ALL: 7 });

/* The smallest module using a SIMD128 instruction (v128.const + drop):
 * WebAssembly.validate() answers whether this engine has SIMD. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 23, 1, 21, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 26, 11]);

/** Does this engine support WebAssembly SIMD128? */
export function simdSupported() {
  try { return WebAssembly.validate(SIMD_PROBE); } catch { return false; }
}

/** Is shared wasm memory usable here (SharedArrayBuffer + cross-origin isolation in browsers)? */
export function threadsSupported() {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if (!isNode && typeof crossOriginIsolated !== 'undefined' && !crossOriginIsolated) return false;
  try { new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }); return true; } catch { return false; }
}

/** URL of a file in dist/ (the built wasm modules). */
export function distUrl(name) { return new URL(`../dist/${name}`, import.meta.url); }

/** Fetches (browser) or reads (Node) a module's bytes. */
export async function wasmBytes(name, url) {
  const u = url ? new URL(url, isNode ? `file://${process.cwd()}/` : globalThis.location?.href) : distUrl(name);
  if (isNode && u.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(u);
  }
  const r = await fetch(u);
  if (!r.ok) throw new Error(`deltavec: cannot fetch ${u}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Wraps one instance's exports with memory helpers. Shared by the single- and multi-threaded modules. */
export class Runtime {
  constructor(instance, memory, flavor) {
    this.x = instance.exports;
    this.memory = memory || instance.exports.memory;
    this.flavor = flavor;
    this._buf = null;
    this._scratch = 0;
    this._scratchCap = 0;
    this._scratchUsed = 0;
    this.backend = this.str(this.x.dvw_simd_backend());
    this.version = this.str(this.x.dvw_version_string());
  }
  get u8() {
    if (!this._buf || this._buf.buffer !== this.memory.buffer) {
      const b = this.memory.buffer;
      this._buf = new Uint8Array(b);
      this._dv = new DataView(b);
      this._f32 = new Float32Array(b);
      this._u32 = new Uint32Array(b);
    }
    return this._buf;
  }
  get dv() { this.u8; return this._dv; }
  get f32() { this.u8; return this._f32; }
  get u32() { this.u8; return this._u32; }

  check(st, where) {
    if (st === 0) return;
    throw new DeltavecError(st, this.str(this.x.dvw_status_name(st)), this.str(this.x.dvw_strerror(st)), where);
  }
  statusName(st) { return this.str(this.x.dvw_status_name(st)); }
  str(p) {
    if (!p) return null;
    const u8 = this.u8;
    let e = p;
    while (u8[e] !== 0) e++;
    return dec.decode(u8.slice(p, e)); // a copy: TextDecoder refuses views of shared memory
  }

  /* ---- scratch: a bump area reset at the start of every call ---- */
  reset() { this._scratchUsed = 0; }
  /** Reserves n bytes (16-aligned) in the scratch area; returns the pointer. */
  take(n) {
    const need = this._scratchUsed + ((n + 15) & ~15);
    if (need > this._scratchCap) {
      if (this._scratchUsed !== 0) {
        // Growing while earlier pointers of this call are live would move them:
        // callers size the scratch first through reserve().
        throw new Error('deltavec: scratch overflow (internal)');
      }
      this.reserve(need);
    }
    const p = this._scratch + this._scratchUsed;
    this._scratchUsed = need;
    return p;
  }
  /** Makes sure the scratch area holds at least n bytes (call before take()s of one call). */
  reserve(n) {
    if (n <= this._scratchCap) return;
    let cap = Math.max(4096, this._scratchCap);
    while (cap < n) cap *= 2;
    if (this._scratch) this.x.dvw_free(this._scratch);
    this._scratch = this.x.dvw_alloc(cap);
    if (!this._scratch) { this._scratchCap = 0; throw new DeltavecError(-2, 'DV_ENOMEM', 'out of wasm memory', 'scratch'); }
    this._scratchCap = cap;
    this._scratchUsed = 0;
  }
  putStr(s) {
    const b = enc.encode(s);
    const p = this.take(b.length + 1);
    const u8 = this.u8;
    u8.set(b, p);
    u8[p + b.length] = 0;
    return p;
  }
  putF32(v) {
    const n = v.length;
    const p = this.take(n * 4);
    this.f32.set(v instanceof Float32Array ? v : Float32Array.from(v), p >>> 2);
    return p;
  }
  putU32(v) {
    const p = this.take(v.length * 4);
    this.u32.set(v instanceof Uint32Array ? v : Uint32Array.from(v), p >>> 2);
    return p;
  }
  putBytes(b) {
    const p = this.take(b.length);
    this.u8.set(b, p);
    return p;
  }
  /** Upper bound of scratch bytes for strings (UTF-8 is at most 3 bytes per UTF-16 unit). */
  static strBound(s) { return s.length * 3 + 1 + 16; }
  u64(p) { return this.dv.getBigUint64(p, true); }
}

/** A loaded deltavec module: open dbs and replicas from it. */
export class Deltavec {
  constructor(rt) { this.rt = rt; }
  /** "simd128" or "scalar". */
  get backend() { return this.rt.backend; }
  get flavor() { return this.rt.flavor; }
  /** Current wasm memory size in bytes. */
  get memoryBytes() { return this.rt.memory.buffer.byteLength; }
  openDb(opts) { return Db._open(this.rt, opts || {}); }
  /** A replica: an empty db with the primary's config plus apply/position/seek. */
  openReplica(opts) {
    const db = this.openDb(opts);
    try { return new Replica(this.rt, db, opts || {}); } catch (e) { db.close(); throw e; }
  }
  statusName(st) { return this.rt.statusName(st); }
  /** One line describing an encoded delta (header + payload summary). */
  describe(bytes) {
    const rt = this.rt;
    rt.reset(); rt.reserve(bytes.length + 1024 + 64);
    const p = rt.putBytes(bytes), o = rt.take(1024);
    rt.x.dvw_delta_describe(p, bytes.length, o, 1024);
    return rt.str(o);
  }
  /** Validates header + checksum of an encoded delta; throws DeltavecError when bad. */
  verify(bytes) {
    const rt = this.rt;
    rt.reset(); rt.reserve(bytes.length + 64);
    rt.check(rt.x.dvw_delta_verify(rt.putBytes(bytes), bytes.length), 'verify');
  }
}

const cache = new Map();

/**
 * Loads and instantiates a module. opts.simd: 'auto' (default: detect), true, false.
 * opts.url: where the .wasm is (default: ../dist/ next to this file).
 * The same instance is returned for the same options unless opts.fresh.
 */
export async function load(opts = {}) {
  const simd = opts.simd === undefined || opts.simd === 'auto' ? simdSupported() : !!opts.simd;
  const name = simd ? 'deltavec.wasm' : 'deltavec-scalar.wasm';
  const key = `${name}|${opts.url || ''}`;
  if (!opts.fresh && cache.has(key)) return cache.get(key);
  const p = (async () => {
    const bytes = await wasmBytes(name, opts.url);
    const { instance } = await WebAssembly.instantiate(bytes, {});
    instance.exports._initialize();
    return new Deltavec(new Runtime(instance, null, simd ? 'simd' : 'scalar'));
  })();
  if (!opts.fresh) cache.set(key, p);
  return p;
}

/** Opens a db on the default module (loads it on first use). */
export async function openDb(opts) {
  const dv = await load(opts && opts.load);
  return dv.openDb(opts);
}

/** Opens a replica on the default module. */
export async function openReplica(opts) {
  const dv = await load(opts && opts.load);
  return dv.openReplica(opts);
}

function seedOf(s) {
  if (s === undefined || s === null) return 42n;
  return BigInt.asUintN(64, BigInt(s));
}

/** A vector database handle. close() frees it (and its capture). */
export class Db {
  constructor(rt, h, dim) {
    this.rt = rt;
    this.h = h;
    this.dim = dim;
    this._capture = null;
  }
  static _open(rt, o) {
    const dim = o.dim >>> 0;
    rt.reset(); rt.reserve(64);
    const out = rt.take(4);
    const metric = typeof o.metric === 'string' ? Metric[o.metric.toUpperCase()] : (o.metric || 0);
    if (metric === undefined) throw new DeltavecError(-1, 'DV_EINVAL', `unknown metric ${o.metric}`, 'openDb');
    rt.check(rt.x.dvw_db_open(dim, metric, o.M || 0, o.efConstruction || 0, o.efSearch || 0, seedOf(o.seed), out),
      'openDb');
    return new Db(rt, rt.u32[out >>> 2], dim);
  }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'db is closed', 'db');
    return this.h;
  }
  _vec(v, where) {
    if (!v || v.length !== this.dim) throw new DeltavecError(-5, 'DV_EDIM', `vector length ${v && v.length} != dim ${this.dim}`, where);
  }
  get count() { return this.rt.x.dvw_db_count(this._live()); }
  get memoryUsage() { return this.rt.x.dvw_db_memory_usage(this._live()); }

  insert(id, vec, meta) {
    const rt = this.rt, h = this._live();
    this._vec(vec, 'insert');
    const entries = meta ? Object.entries(meta) : [];
    let bound = Runtime.strBound(id) + this.dim * 4 + 16 + entries.length * 8 + 16;
    for (const [k, v] of entries) bound += Runtime.strBound(k) + Runtime.strBound(String(v));
    rt.reset(); rt.reserve(bound);
    const pid = rt.putStr(id), pv = rt.putF32(vec);
    let pm = 0;
    if (entries.length) {
      pm = rt.take(entries.length * 8);
      entries.forEach(([k, v], i) => {
        const kp = rt.putStr(k), vp = rt.putStr(String(v));
        rt.u32[(pm >>> 2) + 2 * i] = kp;
        rt.u32[(pm >>> 2) + 2 * i + 1] = vp;
      });
    }
    rt.check(rt.x.dvw_db_insert(h, pid, pv, pm, entries.length), 'insert');
  }
  update(id, vec) {
    const rt = this.rt, h = this._live();
    this._vec(vec, 'update');
    rt.reset(); rt.reserve(Runtime.strBound(id) + this.dim * 4 + 16);
    rt.check(rt.x.dvw_db_update(h, rt.putStr(id), rt.putF32(vec)), 'update');
  }
  updateSparse(id, idx, values) {
    const rt = this.rt, h = this._live();
    if (idx.length !== values.length) throw new DeltavecError(-1, 'DV_EINVAL', 'idx and values differ in length', 'updateSparse');
    rt.reset(); rt.reserve(Runtime.strBound(id) + idx.length * 8 + 32);
    rt.check(rt.x.dvw_db_update_sparse(h, rt.putStr(id), rt.putU32(idx), rt.putF32(values), idx.length), 'updateSparse');
  }
  delete(id) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(Runtime.strBound(id));
    rt.check(rt.x.dvw_db_delete(h, rt.putStr(id)), 'delete');
  }
  /** Sets (value a string) or removes (value null) one metadata pair. */
  setMeta(id, key, value) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(Runtime.strBound(id) + Runtime.strBound(key) + (value == null ? 0 : Runtime.strBound(String(value))));
    const pid = rt.putStr(id), pk = rt.putStr(key), pv = value == null ? 0 : rt.putStr(String(value));
    rt.check(rt.x.dvw_db_set_meta(h, pid, pk, pv), 'setMeta');
  }
  /** The vector of a live id (a copy). Throws DV_ENOTFOUND when absent. */
  get(id) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(Runtime.strBound(id) + this.dim * 4 + 16);
    const pid = rt.putStr(id), out = rt.take(this.dim * 4);
    rt.check(rt.x.dvw_db_get(h, pid, out), 'get');
    return rt.f32.slice(out >>> 2, (out >>> 2) + this.dim);
  }
  /** Metadata of a live id as a plain object. */
  meta(id) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(Runtime.strBound(id) + 16);
    const pid = rt.putStr(id), out = rt.take(8);
    rt.check(rt.x.dvw_db_meta(h, pid, out), 'meta');
    const pairs = rt.u32[out >>> 2], n = rt.u32[(out >>> 2) + 1];
    const o = {};
    for (let i = 0; i < n; i++) o[rt.str(rt.u32[(pairs >>> 2) + 2 * i])] = rt.str(rt.u32[(pairs >>> 2) + 2 * i + 1]);
    return o;
  }
  _hits(fn, query, k, ef, where) {
    const rt = this.rt, h = this._live();
    this._vec(query, where);
    k = k >>> 0;
    rt.reset(); rt.reserve(this.dim * 4 + k * 12 + 48);
    const pq = rt.putF32(query), ph = rt.take(k * 12), pn = rt.take(4);
    rt.check(fn(h, pq, k, ef, ph, pn), where);
    const n = rt.u32[pn >>> 2], res = new Array(n), dv = rt.dv;
    for (let i = 0; i < n; i++) {
      const b = ph + 12 * i;
      res[i] = { id: rt.str(dv.getUint32(b, true)), distance: dv.getFloat32(b + 4, true) };
    }
    return res;
  }
  /** k nearest neighbours through the HNSW index: [{id, distance}] sorted by distance. */
  search(query, k, ef = 0) { return this._hits(this.rt.x.dvw_db_search, query, k, ef >>> 0, 'search'); }
  /** Exact k nearest neighbours (brute force). */
  searchExact(query, k) {
    const x = this.rt.x;
    return this._hits((h, q, kk, _ef, hp, np) => x.dvw_db_search_exact(h, q, kk, hp, np), query, k, 0, 'searchExact');
  }
  setEfSearch(ef) { this.rt.check(this.rt.x.dvw_db_set_ef_search(this._live(), ef >>> 0), 'setEfSearch'); }
  /** XXH3-64 of the whole state (vectors, metadata, graph) as a BigInt. */
  stateHash() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_db_state_hash(h, out);
    return rt.u64(out);
  }
  /** A deep copy (same state hash). */
  clone() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(4);
    rt.check(rt.x.dvw_db_clone(h, out), 'clone');
    return new Db(rt, rt.u32[out >>> 2], this.dim);
  }
  /**
   * Starts capturing every write as a delta. opts: slotCount, payloadSize (ring geometry, powers of two),
   * parts (CaptureParts bits), compress (bool), batchMaxDeltas, firstSequence.
   */
  startCapture(opts = {}) {
    const rt = this.rt, h = this._live();
    if (this._capture) throw new DeltavecError(-24, 'DV_ESTATE', 'db already has a capture', 'startCapture');
    rt.reset(); rt.reserve(16);
    const out = rt.take(4);
    const compress = opts.compress === undefined ? -1 : (opts.compress ? 1 : 0);
    rt.check(rt.x.dvw_capture_open(h, opts.slotCount || 0, opts.payloadSize || 0, opts.parts || 0, compress,
      opts.batchMaxDeltas || 0, BigInt(opts.firstSequence || 0), out), 'startCapture');
    this._capture = new Capture(rt, rt.u32[out >>> 2], this);
    return this._capture;
  }
  close() {
    if (!this.h) return;
    if (this._capture) this._capture.close();
    this.rt.x.dvw_db_close(this.h);
    this.h = 0;
  }
}

/** Deltas of one db's writes. poll() copies them out as Uint8Arrays (64-byte header + payload). */
export class Capture {
  constructor(rt, h, db) { this.rt = rt; this.h = h; this.db = db; }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'capture is closed', 'capture');
    return this.h;
  }
  /** Up to max new deltas, in sequence order, each a fresh Uint8Array. Call release() when done with them. */
  poll(max = 256) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(max * 64 + 32);
    const hdrs = rt.take(max * 64), pn = rt.take(4), pay = rt.take(12);
    const st = rt.x.dvw_capture_poll(h, hdrs, max, pn);
    if (st === -10) return [];
    rt.check(st, 'poll');
    const n = rt.u32[pn >>> 2], res = [];
    for (let i = 0; i < n; i++) {
      const seq = rt.u64(hdrs + 64 * i);
      rt.check(rt.x.dvw_capture_payload(h, seq, pay), 'poll');
      const u32 = rt.u32, hp = u32[pay >>> 2], pp = u32[(pay >>> 2) + 1], len = u32[(pay >>> 2) + 2];
      const d = new Uint8Array(64 + len);
      d.set(rt.u8.subarray(hp, hp + 64), 0);
      d.set(rt.u8.subarray(pp, pp + len), 64);
      res.push(d);
    }
    return res;
  }
  /** Lets the ring reuse every delta up to and including sequence (a bigint or number). */
  release(sequence) { this.rt.check(this.rt.x.dvw_capture_release(this._live(), BigInt(sequence)), 'release'); }
  /** Flushes an open batch; returns {sequence, stateHash} (both bigint). */
  checkpoint() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(32);
    const out = rt.take(16);
    rt.check(rt.x.dvw_capture_checkpoint(h, out), 'checkpoint');
    return { sequence: rt.u64(out), stateHash: rt.u64(out + 8) };
  }
  get lastSequence() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_capture_last_sequence(h, out);
    return rt.u64(out);
  }
  flush() { this.rt.check(this.rt.x.dvw_capture_flush(this._live()), 'flush'); }
  stop() { this.rt.check(this.rt.x.dvw_capture_stop(this._live()), 'stop'); }
  stats() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(80);
    const out = rt.take(64);
    rt.check(rt.x.dvw_capture_stats(h, out), 'stats');
    const names = ['deltas', 'writes', 'skippedUnchanged', 'sparseUpdates', 'denseUpdates', 'payloadBytes', 'rawBytes', 'refusedFull'];
    const o = {};
    names.forEach((k, i) => { o[k] = Number(rt.u64(out + 8 * i)); });
    return o;
  }
  close() {
    if (!this.h) return;
    this.rt.x.dvw_capture_free(this.h);
    this.h = 0;
    if (this.db) this.db._capture = null;
  }
}

/**
 * A db fed by deltas through dv_apply (section 8 of deltavec.h): validated, all or nothing.
 * apply() returns true when applied, false for an (ignored) duplicate; throws DeltavecError
 * otherwise (error.detail carries dv_apply_last_error()).
 * opts: mode 'structural' (default) | 'logical'; policy 'abort' (default) | 'omit' | 'replace';
 * coherence (default true); position (sequence the db already holds, default 0).
 */
export class Replica {
  constructor(rt, db, opts = {}) {
    this.rt = rt;
    this.db = db;
    const mode = { structural: 0, logical: 1 }[opts.mode || 'structural'];
    const policy = { abort: 0, omit: 1, replace: 2 }[opts.policy || 'abort'];
    if (mode === undefined || policy === undefined) throw new DeltavecError(-1, 'DV_EINVAL', 'bad mode or policy', 'openReplica');
    rt.reset(); rt.reserve(16);
    const out = rt.take(4);
    const coh = opts.coherence === undefined ? -1 : (opts.coherence ? 1 : 0);
    rt.check(rt.x.dvw_replica_open(db.h, mode, policy, coh, BigInt(opts.position || 0), out), 'openReplica');
    this.h = rt.u32[out >>> 2];
  }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'replica is closed', 'replica');
    return this.h;
  }
  _fail(st, where) {
    try { this.rt.check(st, where); } catch (e) { e.detail = this.lastError; throw e; }
  }
  /** Message about the last refusal (dv_apply_last_error). */
  get lastError() { return this.rt.str(this.rt.x.dvw_replica_last_error(this._live())); }
  apply(bytes) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(bytes.length + 16);
    const st = rt.x.dvw_replica_apply(h, rt.putBytes(bytes), bytes.length);
    if (st === -19) return false;
    if (st !== 0) this._fail(st, 'apply');
    return true;
  }
  /**
   * dv_apply_batch over a list of deltas: returns one status name per delta ("DV_OK",
   * "DV_EDUPLICATE", the error, or "DV_EGAP" for those not tried after a refusal).
   */
  applyBatch(list) {
    const rt = this.rt, h = this._live(), n = list.length;
    let total = n * 12 + 64;
    for (const b of list) total += b.length + 16;
    rt.reset(); rt.reserve(total);
    const ptrs = list.map((b) => rt.putBytes(b));
    const pb = rt.putU32(ptrs), pl = rt.putU32(list.map((b) => b.length)), pr = rt.take(n * 4), pn = rt.take(4);
    rt.x.dvw_replica_apply_batch(h, pb, pl, n, pr, pn);
    const res = new Int32Array(rt.memory.buffer, pr, n);
    return Array.from(res, (st) => rt.statusName(st));
  }
  /** Highest sequence such that everything up to it is applied (bigint). */
  get position() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_replica_position(h, out);
    return rt.u64(out);
  }
  /** Continue from sequence: DV_ESTALE if older than position, DV_EGAP if newer. */
  seek(sequence) { this._fail(this.rt.x.dvw_replica_seek(this._live(), BigInt(sequence)), 'seek'); }
  /** Reposition at a checkpoint {sequence, stateHash} the replica provably holds (same hash). */
  seekCheckpoint(cp) {
    const st = this.rt.x.dvw_replica_seek_checkpoint(this._live(), BigInt(cp.sequence), BigInt.asUintN(64, BigInt(cp.stateHash)));
    if (st !== 0) this._fail(st, 'seekCheckpoint');
  }
  stats() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(96);
    const out = rt.take(80); // dvw_replica_stats writes 10 x u64 (the first 5 are read here)
    rt.check(rt.x.dvw_replica_stats(h, out), 'stats');
    const o = {};
    ['applied', 'duplicates', 'refused', 'omitted', 'replaced'].forEach((k, i) => { o[k] = Number(rt.u64(out + 8 * i)); });
    return o;
  }
  stateHash() { return this.db.stateHash(); }
  search(q, k, ef) { return this.db.search(q, k, ef); }
  close() {
    if (this.h) { this.rt.x.dvw_replica_free(this.h); this.h = 0; }
    this.db.close();
  }
}

/** Splits a stream file (records of u32 LE length + delta bytes) into deltas (views, not copies). */
export function splitStream(buf) {
  const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const out = [];
  let off = 0;
  while (off + 4 <= u8.length) {
    const len = dv.getUint32(off, true);
    off += 4;
    if (len < 64 || off + len > u8.length) throw new DeltavecError(-11, 'DV_ETRUNCATED', `stream record at ${off - 4} truncated`, 'splitStream');
    out.push(u8.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** Joins deltas into the stream-file form (u32 LE length + bytes each). */
export function joinStream(deltas) {
  let total = 0;
  for (const d of deltas) total += 4 + d.length;
  const out = new Uint8Array(total), dv = new DataView(out.buffer);
  let off = 0;
  for (const d of deltas) { dv.setUint32(off, d.length, true); out.set(d, off + 4); off += 4 + d.length; }
  return out;
}

/** A state hash as 16 lowercase hex digits. */
export function hashHex(h) { return h.toString(16).padStart(16, '0'); }
