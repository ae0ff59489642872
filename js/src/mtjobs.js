// mtjobs.js -- jobs run on a deltavec-mt.wasm instance, shared by worker.js and pool.js.

/* Builds a db from shared rows on this instance (own stack, shared heap) and returns its state hash (hex).
 * Run by every worker at once, it exercises per-worker stacks and the thread-safe allocator. */
export function buildDb(x, memory, { rows, n, dim, seed }) {
  const out = x.dvw_alloc(16), id = x.dvw_alloc(32);
  try {
    let st = x.dvw_db_open(dim, 0, 8, 64, 32, BigInt(seed), out);
    if (st) throw new Error(`dvw_db_open: ${st}`);
    const db = new Uint32Array(memory.buffer, out, 1)[0];
    const enc = new TextEncoder();
    for (let i = 0; i < n; i++) {
      const b = enc.encode(`r${i}\0`);
      new Uint8Array(memory.buffer, id, b.length).set(b);
      st = x.dvw_db_insert(db, id, rows + i * dim * 4, 0, 0);
      if (st) throw new Error(`dvw_db_insert: ${st}`);
    }
    x.dvw_db_state_hash(db, out);
    const h = new DataView(memory.buffer).getBigUint64(out, true);
    x.dvw_db_close(db);
    return h.toString(16).padStart(16, '0');
  } finally {
    x.dvw_free(out);
    x.dvw_free(id);
  }
}

/*
 * Commands of a parallel replica (parallel.js), run on a worker's instance. The dispatcher-owner worker gets
 * par-open (m.info set: the config of a stream header) / par-wait / par-apply / par-info / par-stop / par-close; every loop worker gets one par-run, which
 * blocks in dvw_par_worker_run (memory.atomic.wait32 while idle) until par-stop.
 */
const STATS_FIELDS = ['applied', 'duplicates', 'refused', 'omitted', 'replaced', 'parallelDeltas', 'barriers', 'epochs', 'edgeOps', 'shortRuns'];

function cstr(memory, p) {
  if (!p) return null;
  const u8 = new Uint8Array(memory.buffer);
  let e = p;
  while (u8[e] !== 0) e++;
  return new TextDecoder().decode(u8.slice(p, e)); // a copy: TextDecoder refuses shared views
}

function info(x, memory, h, out) {
  x.dvw_par_position(h, out);
  const position = new DataView(memory.buffer).getBigUint64(out, true);
  x.dvw_par_state_hash(h, out);
  const hash = new DataView(memory.buffer).getBigUint64(out, true);
  return { position, hash, count: x.dvw_par_count(h) };
}

export function parCommand(x, memory, m) {
  switch (m.cmd) {
    case 'par-open': {
      const st = m.info ? x.dvw_par_open_from_stream(m.info, m.efs, m.workers, m.epochMax, m.minRun || 0, m.out)
        : x.dvw_par_open(m.dim, m.metric, m.M, m.efc, m.efs, m.seed, m.workers, m.epochMax, m.minRun || 0, m.out);
      if (st) return { st, name: cstr(memory, x.dvw_status_name(st)) };
      const h = new Uint32Array(memory.buffer, m.out, 1)[0];
      return { st, h, loops: x.dvw_par_worker_count(h) };
    }
    case 'par-wait': { // until every worker loop runs (a batch started earlier would apply inline)
      const cell = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + (m.timeoutMs || 30000);
      while (x.dvw_par_workers_running(m.h) < m.n) {
        if (Date.now() > deadline) throw new Error(`only ${x.dvw_par_workers_running(m.h)} of ${m.n} worker loops started`);
        Atomics.wait(cell, 0, 0, 1);
      }
      return { running: x.dvw_par_workers_running(m.h) };
    }
    case 'par-run':
      return { st: x.dvw_par_worker_run(m.h, m.index) };
    case 'par-apply': { // the result struct stays in shared memory at m.res (parallel.js reads it)
      const t0 = performance.now();
      const st = x.dvw_par_apply_stream(m.h, m.buf, m.len, m.res);
      const ms = performance.now() - t0;
      return { ms, detail: st ? cstr(memory, x.dvw_par_last_error(m.h)) : null, ...info(x, memory, m.h, m.out) };
    }
    case 'par-info': {
      const o = info(x, memory, m.h, m.out);
      x.dvw_par_stats(m.h, m.stats);
      const dv = new DataView(memory.buffer);
      o.stats = {};
      STATS_FIELDS.forEach((k, i) => { o.stats[k] = Number(dv.getBigUint64(m.stats + 8 * i, true)); });
      o.running = x.dvw_par_workers_running(m.h);
      return o;
    }
    case 'par-stop':
      x.dvw_par_workers_stop(m.h);
      return { ok: true };
    case 'par-close':
      x.dvw_par_close(m.h);
      return { ok: true };
    case 'feed-drain': // fire and forget: parallel.js reads the feed's shared words, no reply
      x.dvw_feed_drain(m.feed);
      return undefined;
    default:
      throw new Error(`unknown command ${m.cmd}`);
  }
}
