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
