// parallel.mjs -- parallel apply throughput with 1, 2 and 4 workers in Node: deltavec-mt.wasm, one shared
// WebAssembly.Memory, worker_threads.
//
// Setup as js/src/pool.js (compile once, instance 0 on this thread first, then per worker a stack + TLS block
// from the shared heap and dvw_thread_init), with its own worker script (parallel-worker.mjs) because the
// worker loops are a benchmark-side command. Per measurement: a fresh db + replica in instance 0
// (dvw_replica_open_parallel with W workers; W = 1 means inline apply, no worker loop), W workers enter
// dvw_replica_worker_run, this thread (the dispatcher) applies the whole stream with dvw_replica_apply_batch
// in batches of `batch` deltas, then stops the loops; the final state hash must equal the native primary's.
// The stream is the native interop workload (dvw_vectors gen: inserts, dense/sparse updates, deletes, metadata;
// its config M=8, ef_construction=64). Deltas are copied into wasm memory once, outside the timing.
// Rounds interleave worker counts (1, 2, 4, 1, 2, 4, ...); deltas/s = deltas / median wall time.
// On a 2-core VM, 4 workers + the dispatcher oversubscribe the cores: the 4-worker number mostly shows the
// cost of that, not scaling.
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Runtime, Deltavec } from '../src/index.js';
import { memoryPages } from '../src/pool.js';
import { distDir, buildDir, toolPath, median, fmt, table } from './common.mjs';

const STACK = 256 * 1024;

function request(w, msg) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => { w.off('error', onErr); m && m.error ? reject(new Error(m.error)) : resolve(m); };
    const onErr = (e) => { w.off('message', onMsg); reject(e); };
    w.once('message', onMsg);
    w.once('error', onErr);
    w.postMessage(msg);
  });
}

export async function benchParallel({ ops = 20000, dim = 128, workers = [1, 2, 4], rounds = 5, batch = 256, quick = false,
  log = console.log } = {}) {
  if (quick) { ops = 5000; rounds = 1; }
  const mtFile = path.join(distDir, 'deltavec-mt.wasm');
  if (!existsSync(mtFile) || !existsSync(toolPath)) return { ran: false, reason: `${mtFile} or ${toolPath} missing: run scripts/build-wasm.sh` };
  const module = await WebAssembly.compile(readFileSync(mtFile));
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  if (!names.includes('dvw_replica_worker_run')) {
    const reason = 'deltavec-mt.wasm has no dvw_replica_worker_run export (build predates the parallel-apply ABI)';
    log(`\nParallel apply: not available: ${reason}`);
    return { ran: false, reason };
  }
  const dir = path.join(buildDir, 'bench');
  mkdirSync(dir, { recursive: true });
  const stream = path.join(dir, `s-${ops}-${dim}.dvs`), json = path.join(dir, `s-${ops}-${dim}.json`);
  execFileSync(toolPath, ['gen', stream, json, String(ops), String(dim)]);
  const exp = JSON.parse(readFileSync(json, 'utf8'));

  // Fixed size, as js/src/pool.js does: the mt heap stops growing once a worker instance joined (a grow would
  // reach the other threads late; wasm/libc/libc.c).
  const maxPagesOfModule = parseInt(readFileSync(path.join(distDir, 'deltavec-mt.maxpages'), 'utf8'), 10) || 16384;
  const pages = memoryPages(1024 * 1024 * 1024, maxPagesOfModule);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  const rt = new Runtime(inst, memory, 'mt'), x = rt.x;
  const { deltas } = new Deltavec(rt).readStream(readFileSync(stream)); // the core's reader, in this module
  const maxW = Math.max(...workers);
  const tlsSize = x.dvw_tls_size(), tlsAlign = Math.max(16, x.dvw_tls_align());
  const threads = [], blocks = [];
  const res = { ran: false, module: 'deltavec-mt.wasm', stream: { ops, dim, deltas: deltas.length, config: { M: exp.M, efConstruction: exp.efConstruction } },
    batch, rounds, cpus: (await import('node:os')).cpus().length, runs: {} };
  try {
    for (let i = 0; i < maxW; i++) {
      const block = x.dvw_alloc(STACK + tlsSize + tlsAlign);
      if (!block) throw new Error('cannot allocate a worker stack');
      blocks.push(block);
      const w = new Worker(new URL('./parallel-worker.mjs', import.meta.url));
      threads.push(w);
      await request(w, { cmd: 'init', module, memory, stackTop: (block + STACK) & ~15, tls: tlsSize ? (block + STACK + tlsAlign - 1) & ~(tlsAlign - 1) : 0 });
    }
    // All deltas in shared memory once: one buffer + pointer/length tables.
    const total = deltas.reduce((s, d) => s + d.length, 0);
    const pbuf = x.dvw_alloc(total), pptr = x.dvw_alloc(deltas.length * 4), plen = x.dvw_alloc(deltas.length * 4);
    const pres = x.dvw_alloc(batch * 4), pn = x.dvw_alloc(8), pout = x.dvw_alloc(16), pstats = x.dvw_alloc(16 * 8);
    let off = 0;
    deltas.forEach((d, i) => { rt.u8.set(d, pbuf + off); rt.u32[(pptr >>> 2) + i] = pbuf + off; rt.u32[(plen >>> 2) + i] = d.length; off += d.length; });

    const times = Object.fromEntries(workers.map((w) => [w, []]));
    const stats = {};
    for (let round = 0; round < rounds; round++) {
      for (const W of workers) {
        rt.check(x.dvw_db_open(dim, exp.metric, exp.M, exp.efConstruction, exp.efSearch, BigInt(exp.seed), pout), 'db_open');
        const db = rt.u32[pout >>> 2];
        rt.check(x.dvw_replica_open_parallel(db, W >= 2 ? W : 0, 0, 0n, pout), 'replica_open_parallel');
        const r = rt.u32[pout >>> 2];
        const loops = [];
        if (W >= 2) {
          for (let i = 0; i < W; i++) loops.push(request(threads[i], { cmd: 'run', r, index: i }));
          const spin = new Int32Array(new SharedArrayBuffer(4));
          while (x.dvw_replica_workers_running(r) < W) Atomics.wait(spin, 0, 0, 1);
        }
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < deltas.length; i += batch) {
          const n = Math.min(batch, deltas.length - i);
          const st = x.dvw_replica_apply_batch(r, pptr + i * 4, plen + i * 4, n, pres, pn);
          if (st !== 0 || rt.u32[pn >>> 2] !== n) throw new Error(`apply_batch at ${i}: ${rt.statusName(st)}: ${rt.str(x.dvw_replica_last_error(r))}`);
        }
        const sec = Number(process.hrtime.bigint() - t0) / 1e9;
        x.dvw_replica_workers_stop(r);
        const sts = await Promise.all(loops);
        if (sts.some((s) => s.st !== 0)) throw new Error(`worker loop status ${sts.map((s) => s.st)}`);
        x.dvw_replica_stats(r, pstats);
        const s = [...Array(9).keys()].map((k) => Number(rt.dv.getBigUint64(pstats + 8 * k, true)));
        x.dvw_db_state_hash(db, pout);
        const hash = rt.u64(pout).toString(16).padStart(16, '0');
        x.dvw_replica_free(r);
        x.dvw_db_close(db);
        if (hash !== exp.final_hash) throw new Error(`${W} workers: hash ${hash} != native ${exp.final_hash}`);
        times[W].push(sec);
        stats[W] = { applied: s[0], parallel_deltas: s[5], barriers: s[6], epochs: s[7], edge_ops: s[8] };
      }
    }
    for (const p of [pbuf, pptr, plen, pres, pn, pout, pstats]) x.dvw_free(p);
    res.ran = true;
    res.final_hash = exp.final_hash;
    for (const W of workers) {
      const m = median(times[W]);
      res.runs[W] = { deltas_per_s_median: +(deltas.length / m).toFixed(0), wall_s: times[W].map((t) => +t.toFixed(4)), stats: stats[W] };
    }
    const base = res.runs[workers[0]].deltas_per_s_median;
    const rows = [['workers', 'deltas/s (median)', 'vs 1', 'parallel deltas', 'barriers', 'epochs', 'edge ops']];
    for (const W of workers) {
      const q = res.runs[W];
      q.speedup_vs_1 = +(q.deltas_per_s_median / base).toFixed(3);
      rows.push([W === 1 ? '1 (inline)' : W, q.deltas_per_s_median, fmt(q.speedup_vs_1, 2) + 'x', q.stats.parallel_deltas, q.stats.barriers, q.stats.epochs, q.stats.edge_ops]);
    }
    log(`\nParallel apply in wasm (deltavec-mt.wasm, worker_threads, ${res.cpus} CPUs): ${deltas.length} deltas, batches of ${batch}, median of ${rounds} rounds; every run reaches hash ${exp.final_hash}`);
    log(table(rows));
  } catch (e) {
    // e.g. DV_ECHECKSUM on the first native delta: see docs/WASM.md "Benchmarks" (mt build's XXH3 differs).
    res.ran = false;
    res.reason = `failed: ${e.message.split('\n')[0]}`;
    log(`\nParallel apply in wasm: not measured: ${res.reason}`);
  } finally {
    for (const w of threads) await w.terminate();
    for (const b of blocks) x.dvw_free(b);
  }
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchParallel({ rounds: +(process.argv[2] || 3) });
