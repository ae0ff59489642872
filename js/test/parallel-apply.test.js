// Parallel apply in wasm (deltavec-mt.wasm, worker_threads over one shared memory): the native tool's delta
// stream (dvw_vectors gen) applied by a dispatcher worker + N worker loops reaches the native primary's hashes;
// refusals leave the replica at the last good state; the one-thread fallback gives the same answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { load, hashHex } from '../src/index.js';
import { openParallelReplica, openParallelReplicaFromStream } from '../src/parallel.js';
import { tool, haveTool, vectorsDir } from './env.js';

const dv1 = await load();

/* The native tool's stream (a FORMAT.md section 10 container), its header info and its records. */
function vectors() {
  const file = path.join(vectorsDir, 'native.dvs'), json = path.join(vectorsDir, 'native.json');
  if (!existsSync(json)) {
    mkdirSync(vectorsDir, { recursive: true });
    execFileSync(tool, ['gen', file, json]);
  }
  const stream = new Uint8Array(readFileSync(file));
  const { info, deltas } = dv1.readStream(stream);
  return { deltas, info, stream, exp: JSON.parse(readFileSync(json, 'utf8')) };
}

/* A stream of some of the records (a segment starting at their first sequence). */
const segment = (info, list) => dv1.writeStream(info, list);

/* Byte offset in the stream of record k (header + the records before it). */
function recordOffset(info, deltas, k) {
  let off = info.headerSize;
  for (let i = 0; i < k; i++) off += deltas[i].length;
  return off;
}

const skip = !haveTool && 'native tool not built';

for (const workers of [0, 1, 4]) {
  test(`${workers} worker(s): the native stream applies in wasm to the native primary's hash`, { skip }, async () => {
    const { stream, exp } = vectors();
    const r = await openParallelReplicaFromStream(stream, { minRun: 1, workers });
    try {
      assert.equal(r.streamInfo.dim, exp.dim);
      assert.equal(r.shared, true);
      assert.equal(r.parallel, workers >= 1);
      const res = await r.applyStream(stream);
      assert.equal(res.status, 'DV_OK', res.detail || '');
      assert.equal(res.ok, true);
      assert.equal(res.applied, exp.deltas);
      assert.equal(res.position, BigInt(exp.deltas));
      const info = await r.info();
      assert.equal(hashHex(info.hash), exp.final_hash);
      assert.equal(info.count, exp.count);
      if (workers >= 1) {
        assert.equal(info.running, workers);
        assert.ok(info.stats.parallelDeltas > 0, 'the parallel path applied deltas');
        assert.ok(info.stats.edgeOps > 0, 'edge operations went to the worker loops');
      } else {
        assert.equal(info.stats.parallelDeltas, 0);
      }
    } finally {
      await r.close();
    }
    assert.deepEqual(r.loopStatus, new Array(workers).fill(0), 'every worker loop returned DV_OK');
  });
}

test('4 workers: chunked streams hit every checkpoint hash; re-sent deltas are duplicates', { skip }, async () => {
  const { deltas, info, exp } = vectors();
  const cps = new Map(exp.checkpoints.map((c) => [BigInt(c.seq), c.hash]));
  const r = await openParallelReplica({ ...exp, minRun: 1, workers: 4 });
  try {
    let checked = 0;
    for (let i = 0; i < deltas.length; i += 100) {
      const res = await r.applyStream(segment(info, deltas.slice(i, i + 100)));
      assert.equal(res.status, 'DV_OK', res.detail || '');
      const want = cps.get(res.position);
      if (want) { assert.equal(hashHex(await r.stateHash()), want, `hash at ${res.position}`); checked++; }
    }
    assert.equal(checked, exp.checkpoints.length);
    const again = await r.applyStream(segment(info, deltas.slice(0, 50)));
    assert.equal(again.ok, true);
    assert.equal(again.duplicates, 50);
    assert.equal(again.applied, 0);
    assert.equal(hashHex(await r.stateHash()), exp.final_hash);
  } finally {
    await r.close();
  }
});

for (const workers of [1, 4]) {
  test(`${workers} worker(s): a bit flip is refused (DV_ECHECKSUM) and the replica stays at the last good state`, { skip }, async () => {
    const { deltas, info, stream, exp } = vectors();
    const k = 300; // the delta with sequence 301; a checkpoint hash exists for sequence 300
    const cp = exp.checkpoints.find((c) => c.seq === k);
    assert.ok(cp, 'checkpoint at 300');
    const bad = Uint8Array.from(stream);
    const off = recordOffset(info, deltas, k);
    bad[off + 64 + (deltas[k].length - 64 >> 1)] ^= 0x10; // one payload bit
    const r = await openParallelReplica({ ...exp, minRun: 1, workers });
    try {
      const res = await r.applyStream(bad);
      assert.equal(res.ok, false);
      assert.equal(res.status, 'DV_ECHECKSUM');
      assert.equal(res.failedAt, k);
      assert.equal(res.failedOffset, off);
      assert.equal(res.failedSequence, BigInt(k + 1));
      assert.equal(res.applied, k);
      assert.equal(res.position, BigInt(k));
      assert.match(res.detail, /checksum/);
      assert.equal(hashHex(await r.stateHash()), cp.hash, 'state of sequence 300 exactly');
      // Re-delivering the intact rest converges to the primary.
      const rest = await r.applyStream(segment(info, deltas.slice(k)));
      assert.equal(rest.status, 'DV_OK', rest.detail || '');
      assert.equal(hashHex(await r.stateHash()), exp.final_hash);
    } finally {
      await r.close();
    }
  });
}

for (const threads of [true, false]) {
  test(`${threads ? '4 workers' : 'one-thread fallback'}: a stream of another config is refused with DV_ECONFIG before any change`, { skip }, async () => {
    const { deltas, stream, exp } = vectors();
    for (const [field, other] of [['metric', { metric: 'ip' }], ['M', { M: exp.M * 2 }], ['dim', { dim: exp.dim + 1 }]]) {
      const r = await openParallelReplica({ ...exp, ...other, minRun: 1, workers: 4, threads, quiet: true });
      try {
        const before = await r.stateHash();
        const res = await r.applyStream(stream);
        assert.equal(res.status, 'DV_ECONFIG', field);
        assert.equal(res.applied, 0);
        assert.equal(res.position, 0n);
        assert.match(res.detail, new RegExp(field), `the message names ${field}: ${res.detail}`);
        await assert.rejects(r.pushAll(stream), (e) => e.code === 'DV_ECONFIG' && new RegExp(field).test(e.message));
        assert.equal((await r.flush()).pushed, 0, 'nothing was pushed');
        assert.equal(await r.stateHash(), before);
      } finally {
        await r.close();
      }
    }
    // The same stream through pushAll on a replica created from it converges.
    const ok = await openParallelReplicaFromStream(stream, { workers: 2, threads, quiet: true });
    try {
      assert.equal(await ok.pushAll(stream), deltas.length);
      assert.equal((await ok.flush()).status, 'DV_OK');
      assert.equal(hashHex(await ok.stateHash()), exp.final_hash);
    } finally {
      await ok.close();
    }
  });
}

test('4 workers: a truncated tail is DV_ETRUNCATED after the whole deltas before it', { skip }, async () => {
  const { deltas, info, exp } = vectors();
  const s = segment(info, deltas.slice(0, 200));
  const r = await openParallelReplica({ ...exp, minRun: 1, workers: 4 });
  try {
    const res = await r.applyStream(s.subarray(0, s.length - 5));
    assert.equal(res.status, 'DV_ETRUNCATED');
    assert.equal(res.failedOffset, recordOffset(info, deltas, 199));
    assert.equal(res.deltas, 200);
    assert.equal(res.applied, 199);
    assert.equal(res.failedAt, 199);
    assert.equal(res.position, 199n);
  } finally {
    await r.close();
  }
});

for (const simd of [true, false]) {
  test(`fallback (${simd ? 'simd' : 'scalar'}, one thread): same API, says why, same hashes`, { skip }, async () => {
    const { deltas, info, stream, exp } = vectors();
    const r = await openParallelReplicaFromStream(info, { minRun: 1, workers: 4, threads: false, load: { simd } });
    try {
      assert.equal(r.parallel, false);
      assert.equal(r.shared, false);
      assert.match(r.reason, /one thread/);
      const bad = Uint8Array.from(stream);
      const off = recordOffset(info, deltas, 300);
      bad[off + 64 + 3] ^= 1;
      const res = await r.applyStream(bad);
      assert.equal(res.status, 'DV_ECHECKSUM');
      assert.equal(res.failedAt, 300);
      assert.equal(res.failedSequence, 301n);
      assert.equal(res.position, 300n);
      assert.equal(hashHex(await r.stateHash()), exp.checkpoints.find((c) => c.seq === 300).hash);
      const rest = await r.applyStream(segment(info, deltas.slice(300)));
      assert.equal(rest.status, 'DV_OK');
      assert.equal(hashHex(await r.stateHash()), exp.final_hash);
    } finally {
      await r.close();
    }
  });
}

// The shared memory has a fixed size (a grow would reach the other threads' instances late: js/src/pool.js).
// Filling it must refuse cleanly -- DV_ENOMEM at the last good state, no trap -- and never grow the memory.
test('4 workers: a full fixed-size shared memory refuses with DV_ENOMEM at the last good state', async () => {
  const dim = 512, n = 1200, memoryBytes = 12 * 1024 * 1024;
  const dv = await load();
  const cfg = { dim, M: 8, efConstruction: 32, seed: 7 };
  const db = dv.openDb(cfg);
  const cap = db.startCapture();
  const deltas = [];
  const v = new Float32Array(dim);
  let s = 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; v[j] = (s >>> 8) / 8388608 - 1; }
    db.insert(`k${i}`, v);
    const got = cap.poll(64);
    if (got.length) { deltas.push(...got); cap.release(cap.lastSequence); }
  }
  cap.flush();
  deltas.push(...cap.poll(1024));
  assert.equal(deltas.length, n);
  const stream = dv.writeStream(db, deltas);
  assert.ok(stream.length < memoryBytes / 2 && stream.length > memoryBytes / 6, `stream of ${stream.length} bytes`);
  const r = await openParallelReplica({ ...cfg, workers: 4, memoryBytes, feedBytes: 65536 });
  try {
    const bytesBefore = r.t.memory.buffer.byteLength;
    assert.equal(bytesBefore, memoryBytes);
    const res = await r.applyStream(stream);
    assert.equal(res.ok, false, 'the db cannot fit in 12 MiB next to the stream');
    assert.equal(res.status, 'DV_ENOMEM');
    assert.ok(res.failedAt > 0 && res.failedAt < n, `failed at ${res.failedAt}`);
    console.log(`# 12 MiB shared memory: DV_ENOMEM at delta ${res.failedAt} of ${n} (${res.detail})`);
    assert.equal(res.applied, res.failedAt);
    assert.equal(res.position, BigInt(res.failedAt));
    assert.equal(r.t.memory.buffer.byteLength, bytesBefore, 'the shared memory did not grow');
    // The state is exactly that of the deltas before the refused one (single-thread replica as reference).
    const ref = dv.openReplica(cfg);
    try {
      const st = ref.applyBatch(deltas.slice(0, res.failedAt));
      assert.ok(st.every((x) => x === 'DV_OK'));
      assert.equal(hashHex(await r.stateHash()), hashHex(ref.stateHash()));
    } finally {
      ref.close();
    }
  } finally {
    await r.close();
    cap.close();
    db.close();
  }
  assert.deepEqual(r.loopStatus, [0, 0, 0, 0], 'every worker loop returned DV_OK');
});

test('a shared memory too small for the worker loops fails fast with DV_ENOMEM', async () => {
  const t0 = Date.now();
  // 8 loops, 64 KiB feed: 5 MiB runs out at the worker stacks, 6 MiB at the feed ring, 7 MiB at the loops' queues.
  for (const [mib, where] of [[5, /worker stack/], [6, /feed/], [7, /worker loop \d could not start/]]) {
    await assert.rejects(openParallelReplica({ dim: 8, workers: 8, memoryBytes: mib * 1024 * 1024, feedBytes: 65536 }),
      (e) => e.code === 'DV_ENOMEM' && where.test(e.message), `${mib} MiB`);
  }
  assert.ok(Date.now() - t0 < 20000, 'no 30 s wait for loops that cannot start');
});

test('shared memory size: memoryBytes outside 4 MiB .. the module maximum is a RangeError', async () => {
  await assert.rejects(openParallelReplica({ dim: 8, workers: 2, memoryBytes: 1 << 20 }), RangeError);
  await assert.rejects(openParallelReplica({ dim: 8, workers: 2, memoryBytes: 2 ** 33 }), RangeError);
});

// The feed: deltas pushed one by one on this thread into the SPSC ring in shared memory (wasm/feed_mt.c),
// applied by the dispatcher worker from the ring.
for (const workers of [1, 4]) {
  test(`${workers} worker(s): deltas pushed through the feed ring reach the native primary's hash; a small ring fills and drains`, { skip }, async () => {
    const { deltas, exp } = vectors();
    const r = await openParallelReplica({ ...exp, minRun: 1, workers, feedBytes: 65536 });
    try {
      let full = 0;
      for (const d of deltas) {
        while (!r.push(d)) { full++; await r.room(); }
      }
      const st = await r.flush();
      assert.equal(st.status, 'DV_OK', st.detail || '');
      assert.equal(st.ok, true);
      assert.equal(st.pushed, exp.deltas);
      assert.equal(st.consumed, exp.deltas);
      assert.equal(st.applied, exp.deltas);
      assert.equal(st.refused, 0);
      assert.equal(st.position, BigInt(exp.deltas));
      assert.ok(full > 0, 'a 64 KiB feed must fill with this stream (backpressure path)');
      assert.equal(r.feeding, false);
      const info = await r.info();
      assert.equal(hashHex(info.hash), exp.final_hash);
      if (workers >= 1) assert.ok(info.stats.parallelDeltas > 0, 'the feed went through the parallel path');
      // Re-pushed deltas are duplicates and change nothing.
      assert.equal(await r.pushAll(deltas.slice(0, 10)), 10);
      const again = await r.flush();
      assert.equal(again.duplicates, 10);
      assert.equal(hashHex(await r.stateHash()), exp.final_hash);
    } finally {
      await r.close();
    }
  });
}

for (const threads of [true, false]) {
  test(`feed (${threads ? '4 workers' : 'one-thread fallback'}): a bit flip is refused at the last good state, later deltas wait (DV_EGAP), re-pushing converges`, { skip }, async () => {
    const { deltas, exp } = vectors();
    const k = 300;
    const bad = deltas.map((d) => d);
    bad[k] = Uint8Array.from(deltas[k]);
    bad[k][64 + 5] ^= 0x01;
    const r = await openParallelReplica({ ...exp, minRun: 1, workers: 4, threads, quiet: true });
    try {
      assert.equal(r.shared, threads);
      await r.pushAll(bad);
      const st = await r.flush();
      assert.equal(st.ok, false);
      assert.equal(st.status, 'DV_ECHECKSUM');
      assert.equal(st.failedSequence, BigInt(k + 1));
      assert.match(st.detail, /checksum/);
      assert.equal(st.applied, k);
      assert.equal(st.refused, deltas.length - k, 'the bad delta and every later one (DV_EGAP)');
      assert.equal(st.position, BigInt(k));
      assert.equal(hashHex(await r.stateHash()), exp.checkpoints.find((c) => c.seq === k).hash);
      // flush cleared the refusal: re-pushing the intact rest converges and reports clean.
      await r.pushAll(deltas.slice(k));
      const ok = await r.flush();
      assert.equal(ok.status, 'DV_OK', ok.detail || '');
      assert.equal(ok.position, BigInt(exp.deltas));
      assert.equal(hashHex(await r.stateHash()), exp.final_hash);
    } finally {
      await r.close();
    }
  });
}

test('feed: bad input to push throws a DeltavecError and leaves the feed usable', { skip }, async () => {
  const { deltas, exp } = vectors();
  const r = await openParallelReplica({ ...exp, minRun: 1, workers: 2, feedBytes: 65536 });
  try {
    assert.throws(() => r.push(new Uint8Array(10)), (e) => e.code === 'DV_ETRUNCATED');
    assert.throws(() => r.push('x'), (e) => e.code === 'DV_EINVAL');
    const huge = new Uint8Array(64 + 40000); // payload above half of a 64 KiB feed
    huge.set(deltas[0].subarray(0, 64));
    assert.throws(() => r.push(huge), (e) => e.code === 'DV_ETOOBIG');
    await r.pushAll(deltas.slice(0, 50));
    const st = await r.flush();
    assert.equal(st.status, 'DV_OK');
    assert.equal(st.position, 50n);
  } finally {
    await r.close();
  }
  await assert.rejects(openParallelReplica({ ...exp, minRun: 1, workers: 2, feedBytes: 1000 }), RangeError);
});

test('4 workers: by default short runs between deletes apply inline (same hash); minRun 1 sends every run to the loops', { skip }, async () => {
  const { stream, exp } = vectors();
  const stats = {};
  for (const minRun of [undefined, 1]) {
    const r = await openParallelReplica({ ...exp, workers: 4, minRun });
    try {
      const res = await r.applyStream(stream);
      assert.equal(res.status, 'DV_OK', res.detail || '');
      const info = await r.info();
      assert.equal(hashHex(info.hash), exp.final_hash);
      stats[minRun || 'default'] = info.stats;
    } finally {
      await r.close();
    }
  }
  assert.equal(stats[1].shortRuns, 0);
  assert.ok(stats.default.shortRuns > 0, 'the interop stream deletes every ~14 deltas: short runs');
  assert.ok(stats.default.epochs < stats[1].epochs, `${stats.default.epochs} vs ${stats[1].epochs} epochs`);
  for (const s of [stats.default, stats[1]]) assert.equal(s.parallelDeltas + s.barriers + s.shortRuns, exp.deltas);
});

// The idle/wake handshake of the feed (feed_mt.c: running word, re-check after going idle) under many
// transitions: deltas trickle in, the dispatcher drains and goes idle again and again; none may be lost.
test('feed: a trickle of deltas with the dispatcher going idle in between loses none', { skip }, async () => {
  const { deltas, exp } = vectors();
  const r = await openParallelReplica({ ...exp, workers: 2, minRun: 1 });
  try {
    let yields = 0;
    for (let i = 0; i < deltas.length; i++) {
      while (!r.push(deltas[i])) await r.room();
      if (i % 7 === 0) { await new Promise((resolve) => setImmediate(resolve)); yields++; }
      if (i % 50 === 49) assert.equal((await r.flush()).status, 'DV_OK'); // idle for sure: the next push wakes it
    }
    const st = await r.flush();
    assert.equal(st.status, 'DV_OK', st.detail || '');
    assert.equal(st.consumed, deltas.length);
    assert.equal(st.applied, deltas.length);
    assert.equal(st.position, BigInt(exp.deltas));
    assert.ok(yields > 400);
    assert.ok(st.drains >= Math.floor(deltas.length / 50), `the dispatcher was woken from idle at least after every flush (${st.drains} drains)`);
    assert.equal(hashHex(await r.stateHash()), exp.final_hash);
  } finally {
    await r.close();
  }
});
