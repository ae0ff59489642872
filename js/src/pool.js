/*
 * pool.js -- N wasm instances of deltavec-mt.wasm over ONE shared
 * WebAssembly.Memory, one per worker (worker_threads in Node, Web Workers in
 * the browser), plus the dispatching instance on the calling thread.
 *
 * Setup, in order (see wasm/libc/thread.c for why):
 *  1. the caller compiles the module once and creates the shared memory
 *     (maximum = the module's --max-memory, read from dist/deltavec-mt.maxpages);
 *  2. instance 0 (this thread) instantiates first: it runs the data-segment
 *     initialisation and keeps the linker's stack;
 *  3. for every worker, instance 0 allocates a stack and a TLS block from the
 *     shared heap (thread-safe allocator of wasm/libc/libc.c); the worker
 *     instantiates the same Module over the same Memory and calls
 *     dvw_thread_init(stack_top, tls) before anything else.
 *
 * Jobs hand pointers into shared memory to the workers by message; the work
 * itself is coordinated by C11 atomics in the shared memory. Where
 * SharedArrayBuffer is unavailable (a page that is not cross-origin
 * isolated), createPool() returns a one-thread pool (threads = 1,
 * shared = false, reason says why) that runs the same jobs on this thread.
 */
import { Runtime, wasmBytes, threadsSupported, load, distUrl, DeltavecError } from './index.js';
import { buildDb } from './mtjobs.js';
import { isNode } from './host.js';

export const STACK = 256 * 1024;

export async function maxPages(url) {
  try {
    const u = url ? new URL('deltavec-mt.maxpages', url) : distUrl('deltavec-mt.maxpages');
    if (isNode && u.protocol === 'file:') {
      const { readFile } = await import('node:fs/promises');
      return parseInt(await readFile(u, 'utf8'), 10);
    }
    return parseInt(await (await fetch(u)).text(), 10);
  } catch { return 16384; }
}

/* A worker handle with one promise-based request at a time. */
export class Port {
  constructor(w) {
    this.w = w;
    this.pending = null;
    this.feedError = null; // set by an unasked {feedError} (parallel.js's feed drain threw)
    const onMsg = (m) => {
      if (m && m.feedError) { this.feedError = m.feedError; return; }
      const p = this.pending; this.pending = null; if (p) (m && m.error ? p.reject(new Error(m.error)) : p.resolve(m));
    };
    const onErr = (e) => { const p = this.pending; this.pending = null; if (p) p.reject(e instanceof Error ? e : new Error(String(e.message || e))); };
    if (isNode) { w.on('message', onMsg); w.on('error', onErr); } else { w.onmessage = (e) => onMsg(e.data); w.onerror = onErr; }
  }
  request(msg) {
    return new Promise((resolve, reject) => { this.pending = { resolve, reject }; this.w.postMessage(msg); });
  }
  /** A message that gets no reply (the worker's 'feed-drain'). */
  send(msg) { this.w.postMessage(msg); }
  terminate() { this.w.terminate(); }
}

export async function spawn() {
  const url = new URL('./worker.js', import.meta.url);
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    return new Port(new Worker(url));
  }
  return new Port(new Worker(url, { type: 'module' }));
}

function fillRandom(f32, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < f32.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; f32[i] = (s >>> 8) / 8388608 - 1; }
}

export class WorkerPool {
  constructor(rt, ports, stacks) {
    this.rt = rt;
    this.ports = ports;
    this.stacks = stacks;
    this.shared = true;
    this.threads = ports.length;
    this.reason = null;
  }
  /**
   * Parallel L2 distances of `rows` random rows against one query: every worker
   * claims chunks with an atomic counter; the result is compared bit for bit
   * with the same job run on this thread alone.
   */
  async selfTest({ rows = 8192, dim = 64, chunk = 64, seed = 1 } = {}) {
    const rt = this.rt, x = rt.x;
    const pr = x.dvw_alloc(rows * dim * 4), pq = x.dvw_alloc(dim * 4), po = x.dvw_alloc(rows * 4), po1 = x.dvw_alloc(rows * 4);
    const job = x.dvw_alloc(x.dvw_l2_job_size()), job1 = x.dvw_alloc(x.dvw_l2_job_size());
    try {
      fillRandom(new Float32Array(rt.memory.buffer, pr, rows * dim), seed);
      fillRandom(new Float32Array(rt.memory.buffer, pq, dim), seed + 1);
      x.dvw_l2_job_init(job, pr, pq, po, dim, rows, chunk);
      const t0 = performance.now();
      const per = await Promise.all(this.ports.map((p) => p.request({ cmd: 'l2', job })));
      const ms = performance.now() - t0;
      const done = x.dvw_l2_job_done(job);
      x.dvw_l2_job_init(job1, pr, pq, po1, dim, rows, chunk);
      x.dvw_l2_job_run(job1);
      const a = new Uint32Array(rt.memory.buffer, po, rows), b = new Uint32Array(rt.memory.buffer, po1, rows);
      let same = done === rows;
      for (let i = 0; same && i < rows; i++) same = a[i] === b[i];
      // Every worker builds the same HNSW db at once (deep stacks, shared allocator): all hashes must agree.
      const dbn = Math.min(rows, 1500), spec = { rows: pr, n: dbn, dim, seed: 9, memory: rt.memory };
      const hashes = await Promise.all(this.ports.map((p) => p.request({ cmd: 'db', ...spec })));
      const ref = buildDb(x, rt.memory, spec);
      const dbOk = hashes.every((h) => h.hash === ref);
      return { ok: same && dbOk, l2Ok: same, dbOk, dbHash: ref, rows, dim, threads: this.threads,
        perWorker: per.map((m) => m.rows), workersJoined: x.dvw_l2_job_workers(job), ms };
    } finally {
      for (const p of [pr, pq, po, po1, job, job1]) x.dvw_free(p);
    }
  }
  close() {
    for (const p of this.ports) p.terminate();
    for (const s of this.stacks) this.rt.x.dvw_free(s);
    this.ports = [];
    this.stacks = [];
  }
}

/** One-thread stand-in used where SharedArrayBuffer is missing. */
export class FallbackPool {
  constructor(dv, reason) { this.dv = dv; this.shared = false; this.threads = 1; this.reason = reason; }
  async selfTest({ rows = 8192, dim = 64 } = {}) {
    // No shared memory: nothing to compare against; report the single-thread run.
    return { ok: true, rows, dim, threads: 1, perWorker: [rows], workersJoined: 1, fallback: true, reason: this.reason };
  }
  close() {}
}

/**
 * Creates a pool of `workers` threads over one shared memory (default 4).
 * opts.url: base URL of dist/ (default: next to this package).
 */
export async function createPool(opts = {}) {
  const n = opts.workers === undefined ? 4 : opts.workers;
  if (!threadsSupported()) {
    const dv = await load();
    const why = 'SharedArrayBuffer unavailable (not cross-origin isolated): running on one thread';
    if (typeof console !== 'undefined' && !opts.quiet) console.warn(`deltavec: ${why}`);
    return new FallbackPool(dv, why);
  }
  const { rt, ports, stacks } = await startThreads(n, opts);
  return new WorkerPool(rt, ports, stacks);
}

export const DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024;

/**
 * Pages of a fixed-size shared memory of `bytes` (rounded up to 64 KiB pages), checked against the module's
 * maximum. Fixed size because a memory.grow by one thread reaches the other threads' instances late in V8,
 * and until then their atomics and memory.copy/fill trap on the new pages (wasm/libc/libc.c,
 * js/test/grow-race.test.js): the heap is sized once, and allocation fails cleanly (DV_ENOMEM) when full.
 * Untouched pages are reserved address space, not RAM.
 */
export function memoryPages(bytes, maxPagesOfModule) {
  const b = bytes === undefined ? DEFAULT_MEMORY_BYTES : bytes;
  const pages = Math.ceil(b / 65536);
  if (!Number.isFinite(b) || pages < 64 || pages > maxPagesOfModule) {
    throw new RangeError(`deltavec: memoryBytes must be 4 MiB .. ${maxPagesOfModule * 64} KiB (got ${bytes})`);
  }
  return pages;
}

/**
 * Compiles deltavec-mt.wasm, creates the shared memory (fixed size: opts.memoryBytes, default 256 MiB),
 * instantiates instance 0 on this thread and starts n workers, each with its own stack + TLS block
 * (dvw_thread_init). Used by createPool and parallel.js.
 */
export async function startThreads(n, opts = {}) {
  const pages = memoryPages(opts.memoryBytes, await maxPages(opts.url));
  const bytes = await wasmBytes('deltavec-mt.wasm', opts.url ? new URL('deltavec-mt.wasm', opts.url).href : undefined);
  const module = await WebAssembly.compile(bytes);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  const rt = new Runtime(inst, memory, 'mt');
  const x = rt.x;
  const tlsSize = x.dvw_tls_size(), tlsAlign = Math.max(16, x.dvw_tls_align());
  const ports = [], stacks = [];
  try {
    for (let i = 0; i < n; i++) {
      const block = x.dvw_alloc(STACK + tlsSize + tlsAlign);
      if (!block) throw new DeltavecError(-2, 'DV_ENOMEM', `cannot allocate worker stack ${i} (opts.memoryBytes too small)`, 'startThreads');
      stacks.push(block);
      const stackTop = (block + STACK) & ~15;
      const tls = tlsSize ? (block + STACK + tlsAlign - 1) & ~(tlsAlign - 1) : 0;
      const port = await spawn();
      ports.push(port);
      await port.request({ cmd: 'init', module, memory, stackTop, tls, index: i });
    }
  } catch (e) {
    for (const p of ports) p.terminate();
    for (const s of stacks) x.dvw_free(s);
    throw e;
  }
  return { rt, module, memory, ports, stacks };
}
