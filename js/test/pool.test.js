// Worker pool over one shared WebAssembly.Memory (deltavec-mt.wasm): per-worker stacks, atomics, shared allocator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool } from '../src/pool.js';

for (const workers of [1, 4]) {
  test(`${workers} worker(s) on one shared memory compute what one thread computes`, async () => {
    const pool = await createPool({ workers });
    try {
      assert.equal(pool.shared, true);
      assert.equal(pool.threads, workers);
      const r = await pool.selfTest({ rows: 20000, dim: 64, chunk: 32 });
      assert.equal(r.l2Ok, true, 'parallel distances equal single-thread ones bit for bit');
      assert.equal(r.dbOk, true, 'every worker built the same HNSW db (same state hash)');
      assert.equal(r.perWorker.reduce((a, b) => a + b, 0), 20000);
      assert.equal(r.workersJoined, workers);
    } finally {
      pool.close();
    }
  });
}
