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
    this._shared = typeof SharedArrayBuffer !== 'undefined' && this.memory.buffer instanceof SharedArrayBuffer;
    this._scratch = 0;
    this._scratchCap = 0;
    this._scratchUsed = 0;
    this.backend = this.str(this.x.dvw_simd_backend());
    this.version = this.str(this.x.dvw_version_string());
  }
  get u8() {
    // A grown non-shared memory detaches the old ArrayBuffer (views read length 0), so checking the view is
    // enough and skips the Memory.buffer getter, a measurable part of a small call (Replica.apply of a
    // sparse delta). A shared memory's old buffer stays valid but short: ask the Memory.
    const b = this._buf;
    if (!b || (this._shared ? b.buffer !== this.memory.buffer : b.length === 0)) {
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
    // Short ASCII (ids such as "12345": every search hit) is built char by char: 3-4x cheaper than the
    // copy + TextDecoder call, which was ~7 us of a 10-hit search. Anything else goes through TextDecoder.
    let e = p, s = '';
    for (let c = u8[e]; c !== 0; c = u8[++e]) {
      if (c >= 0x80 || e - p >= 64) return this._strUtf8(p);
      s += String.fromCharCode(c);
    }
    return s;
  }
  _strUtf8(p) {
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
  /** A new empty db, or with opts.snapshot (bytes of db.snapshot()) the db it holds. */
  openDb(opts) {
    opts = opts || {};
    return opts.snapshot ? Db._restore(this.rt, opts.snapshot, false) : Db._open(this.rt, opts);
  }
  /**
   * A replica: an empty db with the primary's config plus apply/position/seek. With opts.snapshot
   * the db is the snapshot's, the position its sequence, and later deltas' prev_sequence is checked
   * against the snapshot's per-slot table.
   */
  openReplica(opts) {
    opts = opts || {};
    const db = opts.snapshot ? Db._restore(this.rt, opts.snapshot, true) : this.openDb(opts);
    try {
      if (!opts.snapshot) return new Replica(this.rt, db, opts);
      const r = new Replica(this.rt, db, { ...opts, position: db.snapshotMeta.sequence });
      if (db._table) this.rt.check(this.rt.x.dvw_replica_restore_slots(r.h, db._table.p, db._table.n), 'openReplica');
      return r;
    } catch (e) { db.close(); throw e; } finally { db._freeTable(); }
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
  /** An incremental stream reader (opts.maxPayload: larger records are DV_ETOOBIG). close() it. */
  streamReader(opts) { return new StreamReader(this.rt, opts); }
  /** A stream writer for a Db's config or a stream info (opts: mode, lossy, firstSequence). close() it. */
  streamWriter(source, opts) { return new StreamWriter(this.rt, infoOf(this.rt, source, opts)); }
  /**
   * Reads a whole stream: {info, deltas, length}. Throws the first problem as a DeltavecError with .offset
   * (DV_EEMPTY, DV_ENOTSTREAM, DV_ETRUNCATED, DV_ECHECKSUM, DV_EGAP, ...).
   */
  readStream(bytes, opts) { return readStreamOn(this.rt, bytes, opts); }
  /**
   * One stream (header + every delta) as bytes. source: a Db (its config; opts.mode 'structural' | 'logical',
   * opts.lossy) or a stream info; firstSequence: opts.firstSequence, else the first delta's sequence.
   */
  writeStream(source, deltas, opts) { return writeStreamOn(this.rt, source, deltas, opts); }
  /** The stream header at the start of bytes, decoded and checked (throws DeltavecError). */
  streamInfo(bytes) { return decodeStreamInfo(this.rt, bytes, 'streamInfo'); }
  /**
   * A replica created from a stream header (bytes starting with one, or an info): the header's db config and
   * mode; opts: efSearch, policy, coherence, position, mode ('logical' to apply a structural stream logically).
   * Apply the records with replica.applyStream(bytes) or a StreamReader + apply().
   */
  openReplicaFromStream(source, opts = {}) {
    const rt = this.rt;
    const info = source instanceof Uint8Array || source instanceof ArrayBuffer ? this.streamInfo(source) : source;
    rt.reset(); rt.reserve(STREAM_INFO_SIZE + 32);
    const pi = rt.take(STREAM_INFO_SIZE), out = rt.take(4);
    putStreamInfo(rt, info, pi);
    rt.check(rt.x.dvw_db_open_from_stream(pi, (opts.efSearch || 0) >>> 0, out), 'openReplicaFromStream');
    const db = new Db(rt, rt.u32[out >>> 2], info.dim);
    let rep;
    try {
      rep = new Replica(rt, db, { ...opts, mode: opts.mode || info.mode });
    } catch (e) { db.close(); throw e; }
    try { rep.beginStream(info); } catch (e) { rep.close(); throw e; }
    return rep;
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

/** Deltavec.openReplicaFromStream on the default module (opts.load: load options). */
export async function openReplicaFromStream(source, opts) {
  const dv = await load(opts && opts.load);
  return dv.openReplicaFromStream(source, opts);
}

/** Deltavec.readStream on the default module. */
export async function readStream(bytes, opts) {
  const dv = await load(opts && opts.load);
  return dv.readStream(bytes, opts);
}

/** Deltavec.writeStream: on the Db's module, or the default module for a stream info. */
export async function writeStream(source, deltas, opts) {
  if (source instanceof Db) return writeStreamOn(source.rt, source, deltas, opts);
  const dv = await load(opts && opts.load);
  return dv.writeStream(source, deltas, opts);
}

/* ---- argument checks: a TypeError or RangeError naming the argument, before anything reaches wasm ---- */

function kindOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return typeof v === 'string' ? `the string "${v}"` : `${typeof v} ${String(v)}`;
}

function checkString(v, where, name) {
  if (typeof v !== 'string') throw new TypeError(`${where}: ${name} must be a string, got ${kindOf(v)}`);
  return v;
}

/** An integer count in [min, max] (k, ef, dim, ...). */
function checkInt(v, where, name, min, max) {
  if (typeof v !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${kindOf(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${where}: ${name} must be an integer in ${min}..${max}, got ${v}`);
  }
  return v;
}

/** An optional integer option: undefined/null/0 mean the default (0). */
function optInt(v, where, name, max) { return v === undefined || v === null ? 0 : checkInt(v, where, name, 0, max); }

function checkVector(v, where, name) {
  if (!(Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)))) {
    throw new TypeError(`${where}: ${name} must be a Float32Array or an array of numbers, got ${kindOf(v)}`);
  }
  return v;
}

/** Metadata or a filter: a plain object of string values; undefined/null = none. Returns its entries. */
function checkPairs(o, where, name) {
  if (o === undefined || o === null) return [];
  if (typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o)) {
    throw new TypeError(`${where}: ${name} must be an object of string values, got ${kindOf(o)}`);
  }
  const entries = Object.entries(o);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new TypeError(`${where}: ${name}.${k} must be a string, got ${kindOf(v)}`);
  }
  return entries;
}

const U32_MAX = 0xffffffff;
const MAX_EF = 1 << 30; /* the core refuses ef > UINT32_MAX / 4 */

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
    this._replica = null;
    this._table = null;
    /** {sequence, stateHash} (bigints) of the snapshot this db was opened from, else null. */
    this.snapshotMeta = null;
  }
  static _restore(rt, bytes, keepTable) {
    const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    // the snapshot goes in a buffer of its own: the scratch area would keep its size
    const p = rt.x.dvw_alloc(b.length);
    if (!p) throw new DeltavecError(-2, 'DV_ENOMEM', 'out of wasm memory', 'openDb');
    try {
      rt.u8.set(b, p);
      rt.reset(); rt.reserve(512);
      const out = rt.take(4), meta = rt.take(16), tab = rt.take(8), msg = rt.take(256);
      const st = rt.x.dvw_db_snapshot_read(p, b.length, out, meta, tab, msg, 256);
      if (st !== 0) {
        const detail = rt.str(msg);
        try { rt.check(st, 'openDb'); } catch (e) { e.detail = detail; throw e; }
      }
      const h = rt.u32[out >>> 2];
      const db = new Db(rt, h, rt.x.dvw_db_dim(h));
      db.snapshotMeta = { sequence: rt.u64(meta), stateHash: rt.u64(meta + 8) };
      const tp = rt.u32[tab >>> 2], tn = rt.u32[(tab >>> 2) + 1];
      if (tp && keepTable) db._table = { p: tp, n: tn };
      else if (tp) rt.x.dvw_free(tp);
      return db;
    } finally {
      rt.x.dvw_free(p);
    }
  }
  _freeTable() {
    if (this._table) { this.rt.x.dvw_free(this._table.p); this._table = null; }
  }
  static _open(rt, o) {
    if (typeof o !== 'object') throw new TypeError(`openDb: options must be an object, got ${kindOf(o)}`);
    // dim 0 and other out-of-range values are the core's to refuse (DV_EINVAL); fractions and non-numbers never reach it
    const dim = checkInt(o.dim, 'openDb', 'dim', 0, U32_MAX);
    const M = optInt(o.M, 'openDb', 'M', U32_MAX), efc = optInt(o.efConstruction, 'openDb', 'efConstruction', U32_MAX);
    const efs = optInt(o.efSearch, 'openDb', 'efSearch', U32_MAX);
    const capacity = optInt(o.capacity, 'openDb', 'capacity', U32_MAX);
    rt.reset(); rt.reserve(64);
    const out = rt.take(4);
    const metric = typeof o.metric === 'string' ? Metric[o.metric.toUpperCase()] : (o.metric || 0);
    if (metric === undefined) throw new DeltavecError(-1, 'DV_EINVAL', `unknown metric ${o.metric}`, 'openDb');
    rt.check(rt.x.dvw_db_open(dim, metric, M, efc, efs, seedOf(o.seed), out), 'openDb');
    const db = new Db(rt, rt.u32[out >>> 2], dim);
    if (capacity) {
      try { db.reserve(capacity); } catch (e) { db.close(); throw e; }
    }
    return db;
  }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'db is closed', 'db');
    return this.h;
  }
  _vec(v, where, name = 'vec') {
    checkVector(v, where, name);
    if (v.length !== this.dim) throw new DeltavecError(-5, 'DV_EDIM', `${name} length ${v.length} != dim ${this.dim}`, where);
  }
  /** Writes n (key, value) pairs as dv_meta_kv into the scratch; returns the pointer (0 for none). */
  _putPairs(entries) {
    const rt = this.rt;
    if (!entries.length) return 0;
    const pm = rt.take(entries.length * 8);
    entries.forEach(([k, v], i) => {
      const kp = rt.putStr(k), vp = rt.putStr(v);
      rt.u32[(pm >>> 2) + 2 * i] = kp;
      rt.u32[(pm >>> 2) + 2 * i + 1] = vp;
    });
    return pm;
  }
  static _pairsBound(entries) {
    let b = entries.length * 8 + 16;
    for (const [k, v] of entries) b += Runtime.strBound(k) + Runtime.strBound(v);
    return b;
  }
  get count() { return this.rt.x.dvw_db_count(this._live()); }
  get memoryUsage() { return this.rt.x.dvw_db_memory_usage(this._live()); }
  /**
   * Room for n vectors in all, taken at once (dv_db_reserve): inserts up to n grow nothing. Wasm memory
   * never shrinks, so every array grown later leaves its old block behind as a hole; a bulk load that
   * knows its count keeps the memory near memoryUsage this way (docs/BENCH.md, wasm memory).
   */
  reserve(n) { this.rt.check(this.rt.x.dvw_db_reserve(this._live(), checkInt(n, 'reserve', 'n', 0, U32_MAX)), 'reserve'); }

  insert(id, vec, meta) {
    const rt = this.rt, h = this._live();
    checkString(id, 'insert', 'id');
    this._vec(vec, 'insert');
    const entries = checkPairs(meta, 'insert', 'meta');
    rt.reset(); rt.reserve(Runtime.strBound(id) + this.dim * 4 + 16 + Db._pairsBound(entries));
    const pid = rt.putStr(id), pv = rt.putF32(vec), pm = this._putPairs(entries);
    rt.check(rt.x.dvw_db_insert(h, pid, pv, pm, entries.length), 'insert');
  }
  /**
   * Inserts items [{id, vector, meta?}] in order. Every item is checked before the first goes in: a bad one
   * throws (naming items[i]) with nothing inserted. Only a full capture ring can stop the batch part-way: the
   * DeltavecError (DV_EFULL) then has .inserted, the number of leading items that went in. Returns items.length.
   */
  insertBatch(items) {
    const rt = this.rt, h = this._live(), dim = this.dim;
    if (!Array.isArray(items)) throw new TypeError(`insertBatch: items must be an array, got ${kindOf(items)}`);
    const ITEM = 16, ids = new Set();
    let bytes = items.length * ITEM + 16;
    const pairs = items.map((it, i) => {
      const name = `items[${i}]`;
      if (typeof it !== 'object' || it === null) throw new TypeError(`insertBatch: ${name} must be an object {id, vector, meta?}, got ${kindOf(it)}`);
      checkString(it.id, 'insertBatch', `${name}.id`);
      this._vec(it.vector, 'insertBatch', `${name}.vector`);
      if (ids.has(it.id)) throw new DeltavecError(-3, 'DV_EEXIST', `${name}.id "${it.id}" is given twice`, 'insertBatch');
      ids.add(it.id);
      const entries = checkPairs(it.meta, 'insertBatch', `${name}.meta`);
      bytes += Runtime.strBound(it.id) + dim * 4 + 16 + Db._pairsBound(entries);
      return entries;
    });
    if (!items.length) return 0;
    // the batch goes in a buffer of its own: the scratch area would keep its size for the instance's lifetime
    const base = rt.x.dvw_alloc(bytes);
    if (!base) throw new DeltavecError(-2, 'DV_ENOMEM', 'out of wasm memory', 'insertBatch');
    try {
      let next = base;
      const take = (n) => { const p = next; next += (n + 15) & ~15; return p; };
      const putStr = (str) => {
        const b = enc.encode(str), p = take(b.length + 1);
        rt.u8.set(b, p); rt.u8[p + b.length] = 0;
        return p;
      };
      const table = take(items.length * ITEM), done = take(4);
      items.forEach((it, i) => {
        const pv = take(dim * 4);
        rt.f32.set(it.vector instanceof Float32Array ? it.vector : Float32Array.from(it.vector), pv >>> 2);
        const entries = pairs[i];
        let pm = 0;
        if (entries.length) {
          pm = take(entries.length * 8);
          entries.forEach(([k, v], j) => {
            rt.u32[(pm >>> 2) + 2 * j] = putStr(k);
            rt.u32[(pm >>> 2) + 2 * j + 1] = putStr(v);
          });
        }
        const w = (table >>> 2) + 4 * i;
        rt.u32[w] = putStr(it.id);
        rt.u32[w + 1] = pv;
        rt.u32[w + 2] = pm;
        rt.u32[w + 3] = entries.length;
      });
      const st = rt.x.dvw_db_insert_batch(h, table, items.length, done);
      const inserted = rt.u32[done >>> 2];
      try { rt.check(st, 'insertBatch'); } catch (e) { e.inserted = inserted; throw e; }
      return inserted;
    } finally {
      rt.x.dvw_free(base);
    }
  }
  update(id, vec) {
    const rt = this.rt, h = this._live();
    checkString(id, 'update', 'id');
    this._vec(vec, 'update');
    rt.reset(); rt.reserve(Runtime.strBound(id) + this.dim * 4 + 16);
    rt.check(rt.x.dvw_db_update(h, rt.putStr(id), rt.putF32(vec)), 'update');
  }
  updateSparse(id, idx, values) {
    const rt = this.rt, h = this._live();
    checkString(id, 'updateSparse', 'id');
    checkVector(idx, 'updateSparse', 'idx');
    checkVector(values, 'updateSparse', 'values');
    if (idx.length !== values.length) throw new DeltavecError(-1, 'DV_EINVAL', 'idx and values differ in length', 'updateSparse');
    rt.reset(); rt.reserve(Runtime.strBound(id) + idx.length * 8 + 32);
    rt.check(rt.x.dvw_db_update_sparse(h, rt.putStr(id), rt.putU32(idx), rt.putF32(values), idx.length), 'updateSparse');
  }
  delete(id) {
    const rt = this.rt, h = this._live();
    checkString(id, 'delete', 'id');
    rt.reset(); rt.reserve(Runtime.strBound(id));
    rt.check(rt.x.dvw_db_delete(h, rt.putStr(id)), 'delete');
  }
  /** Sets (value a string) or removes (value null) one metadata pair. */
  setMeta(id, key, value) {
    const rt = this.rt, h = this._live();
    checkString(id, 'setMeta', 'id');
    checkString(key, 'setMeta', 'key');
    const remove = value === null || value === undefined;
    if (!remove) checkString(value, 'setMeta', 'value (a string, or null to remove)');
    rt.reset(); rt.reserve(Runtime.strBound(id) + Runtime.strBound(key) + (remove ? 0 : Runtime.strBound(value)));
    const pid = rt.putStr(id), pk = rt.putStr(key), pv = remove ? 0 : rt.putStr(value);
    rt.check(rt.x.dvw_db_set_meta(h, pid, pk, pv), 'setMeta');
  }
  /** The vector of a live id (a copy). Throws DV_ENOTFOUND when absent. */
  get(id) {
    const rt = this.rt, h = this._live();
    checkString(id, 'get', 'id');
    rt.reset(); rt.reserve(Runtime.strBound(id) + this.dim * 4 + 16);
    const pid = rt.putStr(id), out = rt.take(this.dim * 4);
    rt.check(rt.x.dvw_db_get(h, pid, out), 'get');
    return rt.f32.slice(out >>> 2, (out >>> 2) + this.dim);
  }
  /** Metadata of a live id as a plain object. */
  meta(id) {
    const rt = this.rt, h = this._live();
    checkString(id, 'meta', 'id');
    rt.reset(); rt.reserve(Runtime.strBound(id) + 16);
    const pid = rt.putStr(id), out = rt.take(8);
    rt.check(rt.x.dvw_db_meta(h, pid, out), 'meta');
    const pairs = rt.u32[out >>> 2], n = rt.u32[(out >>> 2) + 1];
    const o = {};
    for (let i = 0; i < n; i++) o[rt.str(rt.u32[(pairs >>> 2) + 2 * i])] = rt.str(rt.u32[(pairs >>> 2) + 2 * i + 1]);
    return o;
  }
  /* k: hits wanted (an integer >= 0; more than count gives count). The hit buffer is sized by what the
   * core can return (min(k, count)), so a huge k costs nothing. */
  _hits(fn, query, k, ef, entries, where) {
    const rt = this.rt, h = this._live();
    this._vec(query, where, 'query');
    checkInt(k, where, 'k', 0, U32_MAX);
    const n = Math.min(k, this.count);
    rt.reset(); rt.reserve(this.dim * 4 + n * 12 + 48 + Db._pairsBound(entries));
    const pq = rt.putF32(query), ph = rt.take(n * 12), pn = rt.take(4), pf = this._putPairs(entries);
    rt.check(fn(h, pq, n, ef, pf, entries.length, ph, pn), where);
    const u32 = rt.u32, f32 = rt.f32, got = u32[pn >>> 2], res = new Array(got);
    for (let i = 0, w = ph >>> 2; i < got; i++, w += 3) res[i] = { id: rt.str(u32[w]), distance: f32[w + 1] };
    return res;
  }
  /**
   * k nearest neighbours through the HNSW index: [{id, distance}] sorted by distance. opts: a number (ef, as
   * before) or {ef, filter}: filter {key: value, ...} keeps only vectors whose metadata holds every pair.
   */
  search(query, k, opts) {
    let ef = 0, entries = [];
    if (typeof opts === 'number') ef = checkInt(opts, 'search', 'ef', 0, MAX_EF);
    else if (opts !== undefined && opts !== null) {
      if (typeof opts !== 'object') throw new TypeError(`search: options must be a number (ef) or {ef, filter}, got ${kindOf(opts)}`);
      ef = optInt(opts.ef, 'search', 'ef', MAX_EF);
      entries = checkPairs(opts.filter, 'search', 'filter');
    }
    const x = this.rt.x;
    if (!entries.length) return this._hits((h, q, kk, e, _pf, _nf, hp, np) => x.dvw_db_search(h, q, kk, e, hp, np), query, k, ef, entries, 'search');
    return this._hits(x.dvw_db_search_filtered, query, k, ef, entries, 'search');
  }
  /** Exact k nearest neighbours (brute force). */
  searchExact(query, k) {
    const x = this.rt.x;
    return this._hits((h, q, kk, _ef, _pf, _nf, hp, np) => x.dvw_db_search_exact(h, q, kk, hp, np), query, k, 0, [], 'searchExact');
  }
  setEfSearch(ef) { this.rt.check(this.rt.x.dvw_db_set_ef_search(this._live(), checkInt(ef, 'setEfSearch', 'ef', 0, U32_MAX)), 'setEfSearch'); }
  /** XXH3-64 of the whole state (vectors, metadata, graph) as a BigInt. */
  stateHash() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_db_state_hash(h, out);
    return rt.u64(out);
  }
  /**
   * The whole db as bytes (docs/STORAGE.md "Snapshot file"): openDb({ snapshot }) gives it back with
   * the same state hash. With a capture running, the snapshot records the capture's last sequence
   * (an open batch is flushed first); for a replica's db, the replica's position.
   */
  snapshot() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    const cap = this._capture ? this._capture.h : 0, rep = !cap && this._replica ? this._replica.h : 0;
    rt.check(rt.x.dvw_db_snapshot(h, cap, rep, out), 'snapshot');
    const p = rt.u32[out >>> 2], n = rt.u32[(out >>> 2) + 1];
    const bytes = rt.u8.slice(p, p + n);
    rt.x.dvw_free(p);
    return bytes;
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
  /**
   * The stream info of this db's config: {dim, metric, M, efConstruction, seed, relinkRatio, mode, lossy,
   * firstSequence, producerVersion, dbId, ...}. opts: mode ('structural' default | 'logical'), lossy (0 | 1 f16 |
   * 2 i8), firstSequence (default 1).
   */
  streamInfo(opts = {}) {
    const rt = this.rt, h = this._live();
    const mode = typeof opts.mode === 'string' ? MODE_NAMES.indexOf(opts.mode) : (opts.mode || 0);
    if (mode < 0) throw new DeltavecError(-1, 'DV_EINVAL', `unknown stream mode ${opts.mode}`, 'streamInfo');
    rt.reset(); rt.reserve(STREAM_INFO_SIZE + 16);
    const out = rt.take(STREAM_INFO_SIZE);
    rt.check(rt.x.dvw_stream_info_from_db(h, mode, (opts.lossy || 0) >>> 0, BigInt(opts.firstSequence ?? 1), out), 'streamInfo');
    return getStreamInfo(rt, out);
  }
  /** The 80-byte stream header of this db's config (streamInfo's opts): what a stream of its deltas starts with. */
  streamHeader(opts) {
    const rt = this.rt, info = this.streamInfo(opts);
    rt.reset(); rt.reserve(2 * STREAM_INFO_SIZE + 32);
    const pi = rt.take(STREAM_INFO_SIZE), out = rt.take(STREAM_INFO_SIZE);
    putStreamInfo(rt, info, pi);
    rt.check(rt.x.dvw_stream_header_encode(pi, out, STREAM_INFO_SIZE), 'streamHeader');
    return rt.u8.slice(out, out + STREAM_INFO_SIZE);
  }
  close() {
    if (!this.h) return;
    if (this._capture) this._capture.close();
    this._freeTable();
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
    /** The stream header accepted by beginStream (null before). */
    this.streamInfo = null;
    const mode = { structural: 0, logical: 1 }[opts.mode || 'structural'];
    const policy = { abort: 0, omit: 1, replace: 2 }[opts.policy || 'abort'];
    if (mode === undefined || policy === undefined) throw new DeltavecError(-1, 'DV_EINVAL', 'bad mode or policy', 'openReplica');
    rt.reset(); rt.reserve(16);
    const out = rt.take(4);
    const coh = opts.coherence === undefined ? -1 : (opts.coherence ? 1 : 0);
    rt.check(rt.x.dvw_replica_open(db.h, mode, policy, coh, BigInt(opts.position || 0), out), 'openReplica');
    this.h = rt.u32[out >>> 2];
    db._replica = this;
  }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'replica is closed', 'replica');
    return this.h;
  }
  _fail(st, where) {
    try { this.rt.check(st, where); } catch (e) {
      e.detail = this.lastError;
      if (e.detail) e.message += ` (${e.detail})`;
      throw e;
    }
  }
  /**
   * Checks a stream header (bytes or info) against this replica before any of its records: DeltavecError
   * DV_ECONFIG (the config differs; the message names the field), DV_EGAP (the stream starts after position + 1).
   * Nothing changes either way.
   */
  beginStream(source) {
    const rt = this.rt, h = this._live();
    const info = source instanceof Uint8Array || source instanceof ArrayBuffer ? decodeStreamInfo(rt, source, 'beginStream') : source;
    rt.reset(); rt.reserve(STREAM_INFO_SIZE + 16);
    const pi = rt.take(STREAM_INFO_SIZE);
    putStreamInfo(rt, info, pi);
    this._fail(rt.x.dvw_replica_begin_stream(h, pi), 'beginStream');
    this.streamInfo = info;
  }
  /* dvw_replica_apply_stream's result as an object (also parallel.js's fallback). */
  _applyStreamResult(bytes) {
    const rt = this.rt, h = this._live();
    const t0 = performance.now();
    rt.reset(); rt.reserve(bytes.length + 256 + 32);
    const p = rt.putBytes(bytes), res = rt.take(256);
    rt.x.dvw_replica_apply_stream(h, p, bytes.length, res);
    const ms = performance.now() - t0;
    return streamResultOf(rt, res, this.position, ms, () => this.lastError);
  }
  /**
   * Applies a whole stream (header + records) with one dv_apply_batch: the header is checked first (DV_ECONFIG,
   * nothing applied); at the first refusal nothing later is tried and the replica keeps the state after the last
   * good delta. Returns {deltas, applied, duplicates, position}; throws DeltavecError otherwise (.offset, .result).
   */
  applyStream(bytes) {
    const r = this._applyStreamResult(bytes);
    if (!r.ok) {
      const e = new DeltavecError(r.statusCode, r.status, r.detail || this.rt.str(this.rt.x.dvw_strerror(r.statusCode)), 'applyStream');
      e.offset = r.failedOffset;
      e.detail = r.detail;
      e.result = r;
      throw e;
    }
    return r;
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
  search(q, k, opts) { return this.db.search(q, k, opts); }
  /** The replica's db as snapshot bytes, recording its position (see Db.snapshot). */
  snapshot() { this._live(); return this.db.snapshot(); }
  close() {
    if (this.h) { this.rt.x.dvw_replica_free(this.h); this.h = 0; }
    this.db._replica = null;
    this.db.close();
  }
}

/* ---- streams: the container of docs/FORMAT.md section 10 -------------------------------------------------
 *
 * A stream is a stream header (magic, versions, the db config that makes replicas differ, first sequence,
 * producer version, db id) followed by records (64-byte delta header + payload) back to back. JS does not
 * parse it: every byte goes through the core's reader, writer and header codec in wasm (wasm/exports.c).
 * A stream header crosses the boundary as a fixed 80-byte layout (STREAM_INFO_SIZE, docs/WASM.md).
 */
const STREAM_INFO_SIZE = 80;
const METRIC_NAMES = ['l2', 'ip', 'cosine'];
const MODE_NAMES = ['structural', 'logical'];
const DV_EEMPTY = -10, DV_EGAP = -17, DV_EDUPLICATE = -19, DV_ECHECKSUM = -12;

function hexOf(u8) { return Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join(''); }

/** The stream info at p (80-byte layout) as a plain object (field names as openDb's options). */
export function getStreamInfo(rt, p) {
  const dv = rt.dv;
  return {
    version: dv.getUint32(p, true), headerSize: dv.getUint32(p + 4, true), deltaVersion: dv.getUint32(p + 8, true),
    mode: MODE_NAMES[dv.getUint32(p + 12, true)] ?? dv.getUint32(p + 12, true), lossy: dv.getUint32(p + 16, true),
    dim: dv.getUint32(p + 20, true), metric: METRIC_NAMES[dv.getUint32(p + 24, true)] ?? dv.getUint32(p + 24, true),
    M: dv.getUint32(p + 28, true), efConstruction: dv.getUint32(p + 32, true), relinkRatio: dv.getFloat32(p + 36, true),
    seed: dv.getBigUint64(p + 40, true), firstSequence: dv.getBigUint64(p + 48, true),
    producerVersion: dv.getUint32(p + 56, true), dbId: hexOf(rt.u8.subarray(p + 64, p + 80)),
  };
}

/** Writes a stream info object into the 80-byte layout at p (missing fields: 0, which the core refuses). */
export function putStreamInfo(rt, info, p) {
  const dv = rt.dv, u32 = (o, v) => dv.setUint32(p + o, v >>> 0, true);
  rt.u8.fill(0, p, p + STREAM_INFO_SIZE);
  const metric = typeof info.metric === 'string' ? METRIC_NAMES.indexOf(info.metric.toLowerCase()) : (info.metric || 0);
  const mode = typeof info.mode === 'string' ? MODE_NAMES.indexOf(info.mode) : (info.mode || 0);
  if (metric < 0 || mode < 0) throw new DeltavecError(-1, 'DV_EINVAL', `unknown metric or mode (${info.metric}, ${info.mode})`, 'stream');
  u32(0, info.version || 1); u32(4, info.headerSize || STREAM_INFO_SIZE); u32(8, info.deltaVersion || 1);
  u32(12, mode); u32(16, info.lossy || 0); u32(20, info.dim || 0); u32(24, metric); u32(28, info.M || 0);
  u32(32, info.efConstruction || 0); dv.setFloat32(p + 36, info.relinkRatio ?? 0, true);
  dv.setBigUint64(p + 40, BigInt.asUintN(64, BigInt(info.seed ?? 0)), true);
  dv.setBigUint64(p + 48, BigInt.asUintN(64, BigInt(info.firstSequence ?? 1)), true);
  u32(56, info.producerVersion || 0);
  if (info.dbId) {
    const hex = String(info.dbId);
    if (!/^[0-9a-f]{32}$/i.test(hex)) throw new DeltavecError(-1, 'DV_EINVAL', 'dbId must be 32 hex digits', 'stream');
    for (let i = 0; i < 16; i++) rt.u8[p + 64 + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
}

/* An error of the stream reader/writer: the C status name, the reader's message, the byte offset. */
function streamError(rt, st, message, offset, where) {
  const e = new DeltavecError(st, rt.statusName(st), message || rt.str(rt.x.dvw_strerror(st)), where);
  e.offset = offset;
  return e;
}

/* The stream info of a Db (its config) or of an info object, with opts (mode, lossy, firstSequence) applied. */
function infoOf(rt, source, opts = {}) {
  if (source instanceof Db) return source.streamInfo(opts);
  const info = { ...source };
  if (opts.mode !== undefined) info.mode = opts.mode;
  if (opts.lossy !== undefined) info.lossy = opts.lossy;
  if (opts.firstSequence !== undefined) info.firstSequence = BigInt(opts.firstSequence);
  return info;
}

/** Decodes the stream header at the start of bytes (the core's codec); throws DeltavecError (e.g. DV_ENOTSTREAM). */
function decodeStreamInfo(rt, bytes, where) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const n = Math.min(u8.length, 4096); // DV_STREAM_MAX_HEADER: records are not needed
  rt.reset(); rt.reserve(n + STREAM_INFO_SIZE + 64);
  const p = rt.putBytes(u8.subarray(0, n)), out = rt.take(STREAM_INFO_SIZE), hs = rt.take(4);
  const st = rt.x.dvw_stream_header_decode(p, n, out, hs);
  if (st !== 0) throw streamError(rt, st, null, 0, where);
  return getStreamInfo(rt, out);
}

/**
 * Incremental reader of a stream (the core's dv_stream_reader): push() chunks of any size as they arrive,
 * next() / iterate the records (each a fresh Uint8Array: 64-byte header + payload), finish() at the end.
 * Problems are thrown by next() in stream order as DeltavecError with .code (C status name) and .offset (stream
 * byte offset): DV_ECHECKSUM (that record is skipped; next() may be called again), DV_EGAP / DV_EDUPLICATE
 * (sequence out of order; the record is in .delta; reading continues), and errors that lose the framing
 * (DV_ENOTSTREAM, DV_EVERSION, DV_ECORRUPT, ...: every later next() throws the same).
 */
export class StreamReader {
  constructor(rt, opts = {}) {
    this.rt = rt;
    rt.reset(); rt.reserve(16);
    const out = rt.take(4);
    rt.check(rt.x.dvw_stream_reader_open((opts.maxPayload || 0) >>> 0, out), 'streamReader');
    this.h = rt.u32[out >>> 2];
    this.queue = [];
    this.qi = 0;
    this.fatal = null;
    this._info = null;
  }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'stream reader is closed', 'streamReader');
    return this.h;
  }
  /** Feeds a chunk (Uint8Array or ArrayBuffer); returns this. The records it completes wait for next(). */
  push(chunk) {
    const rt = this.rt, h = this._live(), x = rt.x;
    const u8 = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    if (this.fatal) return this;
    rt.reset(); rt.reserve(u8.length + 32 + STREAM_INFO_SIZE + 64);
    const p = rt.putBytes(u8), out = rt.take(32), info = rt.take(STREAM_INFO_SIZE);
    let pos = 0;
    for (;;) {
      const st = x.dvw_stream_reader_next(h, p + pos, u8.length - pos, out);
      const dv = rt.dv, used = dv.getUint32(out, true);
      pos += used;
      if (!this._info && x.dvw_stream_reader_info(h, info) === 0) this._info = getStreamInfo(rt, info);
      if (st === DV_EEMPTY) break;
      const offset = Number(dv.getBigUint64(out + 16, true));
      let delta = null;
      if (st === 0 || st === DV_EGAP || st === DV_EDUPLICATE) {
        const hp = dv.getUint32(out + 4, true), pp = dv.getUint32(out + 8, true), len = dv.getUint32(out + 12, true);
        delta = new Uint8Array(64 + len);
        delta.set(rt.u8.subarray(hp, hp + 64), 0);
        delta.set(rt.u8.subarray(pp, pp + len), 64);
      }
      if (st === 0) { this.queue.push(delta); continue; }
      const e = streamError(rt, st, rt.str(x.dvw_stream_reader_message(h)), offset, 'stream');
      if (delta) { e.delta = delta; e.sequence = dv.getBigUint64(out + 24, true); }
      this.queue.push(e);
      // A record failing its checksum is skipped and reading goes on; the stream header's (offset 0) is fatal.
      const skipped = st === DV_ECHECKSUM && offset > 0 && used > 0;
      if (st !== DV_EGAP && st !== DV_EDUPLICATE && !skipped) { this.fatal = e; break; }
    }
    return this;
  }
  /** The next record (Uint8Array), or null when more bytes are needed. Throws the stream's problems in order. */
  next() {
    if (this.qi < this.queue.length) {
      const r = this.queue[this.qi++];
      if (this.qi === this.queue.length) { this.queue = []; this.qi = 0; }
      if (r instanceof DeltavecError) throw r;
      return r;
    }
    if (this.fatal) throw this.fatal;
    return null;
  }
  *[Symbol.iterator]() { for (let d = this.next(); d !== null; d = this.next()) yield d; }
  /** The stream header (null until it has been read): {dim, metric, M, efConstruction, seed, mode, firstSequence, ...}. */
  get info() { return this._info; }
  /** Bytes consumed so far. */
  get offset() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_stream_reader_offset(h, out);
    return Number(rt.u64(out));
  }
  /**
   * End of input: throws DV_ETRUNCATED (.offset = where the torn header or record starts), DV_EEMPTY (no byte at
   * all) or the reader's error; returns the stream's length in bytes when it ended on a record boundary.
   */
  finish() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    const st = rt.x.dvw_stream_reader_finish(h, out);
    if (st !== 0) throw streamError(rt, st, rt.str(rt.x.dvw_stream_reader_message(h)), Number(rt.u64(out)), 'stream');
    return this.offset;
  }
  close() {
    if (this.h) { this.rt.x.dvw_stream_reader_free(this.h); this.h = 0; }
  }
}

/**
 * Writes a stream (the core's dv_stream_writer): the header first (from a Db's config or a stream info), then
 * one record per append(delta), each returned as the bytes to send or store. A delta out of sequence or failing
 * its checksum is refused (DeltavecError DV_EGAP / DV_EDUPLICATE / DV_ECHECKSUM ...) and nothing is written.
 */
export class StreamWriter {
  constructor(rt, info) {
    this.rt = rt;
    this.info = info;
    rt.reset(); rt.reserve(STREAM_INFO_SIZE + 32);
    const pi = rt.take(STREAM_INFO_SIZE), out = rt.take(4);
    putStreamInfo(rt, info, pi);
    rt.check(rt.x.dvw_stream_writer_open(pi, out), 'streamWriter');
    this.h = rt.u32[out >>> 2];
    /** The stream header bytes (write them first). */
    this.header = this._take();
  }
  _live() {
    if (!this.h) throw new DeltavecError(-24, 'DV_ESTATE', 'stream writer is closed', 'streamWriter');
    return this.h;
  }
  _take() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_stream_writer_output(h, out);
    const p = rt.u32[out >>> 2], n = rt.u32[(out >>> 2) + 1];
    const b = rt.u8.slice(p, p + n);
    rt.x.dvw_stream_writer_clear(h);
    return b;
  }
  _append(delta) {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(delta.length + 16);
    const st = rt.x.dvw_stream_writer_append(h, rt.putBytes(delta), delta.length);
    if (st !== 0) throw streamError(rt, st, null, undefined, 'streamWriter');
  }
  /** Appends one delta (64-byte header + payload); returns its record bytes (payload_offset stamped). */
  append(delta) { this._append(delta); return this._take(); }
  /** The sequence the next append must carry (bigint). */
  get nextSequence() {
    const rt = this.rt, h = this._live();
    rt.reset(); rt.reserve(16);
    const out = rt.take(8);
    rt.x.dvw_stream_writer_next_sequence(h, out);
    return rt.u64(out);
  }
  close() {
    if (this.h) { this.rt.x.dvw_stream_writer_free(this.h); this.h = 0; }
  }
}

function firstSequenceOf(deltas) {
  const d = deltas[0];
  return d && d.length >= 8 ? new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, true) : 1n;
}

/** writeStream on a runtime (see Deltavec.writeStream). */
function writeStreamOn(rt, source, deltas, opts = {}) {
  const o = { ...opts };
  if (o.firstSequence === undefined && deltas.length) o.firstSequence = firstSequenceOf(deltas);
  const w = new StreamWriter(rt, infoOf(rt, source, o));
  try {
    for (let i = 0; i < deltas.length; i++) {
      try { w._append(deltas[i]); } catch (e) { e.index = i; throw e; }
    }
    const body = w._take(), out = new Uint8Array(w.header.length + body.length);
    out.set(w.header, 0);
    out.set(body, w.header.length);
    return out;
  } finally {
    w.close();
  }
}

/** readStream on a runtime (see Deltavec.readStream). */
function readStreamOn(rt, bytes, opts) {
  const r = new StreamReader(rt, opts);
  try {
    r.push(bytes);
    const deltas = [];
    for (const d of r) deltas.push(d);
    const length = r.finish();
    return { info: r.info, deltas, length };
  } finally {
    r.close();
  }
}

/*
 * A dvw_stream_result (wasm/dvw.h: 10 x u32 + message) at p as the StreamResult of parallel.d.ts. Also read by
 * parallel.js from the dispatcher's copy (fields passed in r).
 */
export function streamResultOf(rt, p, position, ms, detailOf) {
  const dv = rt.dv, u = (i) => dv.getUint32(p + 4 * i, true);
  const status = dv.getInt32(p, true), failed = status !== 0;
  const message = rt.str(p + 40);
  return {
    ok: !failed, status: rt.statusName(status), statusCode: status, deltas: u(1), applied: u(2), duplicates: u(3),
    position, failedAt: failed ? u(4) : -1,
    failedSequence: failed ? (BigInt(u(7)) << 32n) | BigInt(u(6)) : null,
    failedOffset: failed ? u(8) + u(9) * 2 ** 32 : -1,
    detail: failed ? (message || (detailOf && detailOf()) || null) : null, ms,
  };
}

/** A state hash as 16 lowercase hex digits. */
export function hashHex(h) { return h.toString(16).padStart(16, '0'); }
