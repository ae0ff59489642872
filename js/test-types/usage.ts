// usage.ts -- type-checks the hand-written .d.ts files of the package against typical use (tsc --noEmit, strict),
// through the package's own export map (self-reference "deltavec/..."), as a consumer would import it.
// Part of scripts/test-js.sh; it is never run, only compiled. Lines marked @ts-expect-error must stay errors.
import {
  load, openDb, openReplica, openReplicaFromStream, readStream, writeStream, DeltavecError, Metric, CaptureParts,
  hashHex, simdSupported, threadsSupported, type Hit, type Checkpoint, type StreamInfo, type StreamError,
  type InsertItem, type SearchOptions,
} from 'deltavec';
import {
  openParallelReplica, openParallelReplicaFromStream, DEFAULT_FEED_BYTES, type StreamResult, type FeedStatus,
} from 'deltavec/parallel';
import { createPool, memoryPages, DEFAULT_MEMORY_BYTES } from 'deltavec/pool';
import { followNats } from 'deltavec/nats';

async function primaryToReplica(): Promise<string> {
  const dv = await load({ simd: 'auto' });
  const backend: 'simd128' | 'scalar' = dv.backend;
  const db = dv.openDb({ dim: 4, metric: 'cosine', M: 16, efConstruction: 200, seed: 42n });
  const cap = db.startCapture({ parts: CaptureParts.ALL, compress: true });
  db.insert('a', new Float32Array([1, 0, 0, 0]), { tag: 'x' });
  db.update('a', [0, 1, 0, 0]);
  db.updateSparse('a', [2], [0.5]);
  db.setMeta('a', 'tag', null);
  const deltas: Uint8Array[] = cap.poll(256);
  cap.release(cap.lastSequence);
  const cp: Checkpoint = cap.checkpoint();
  const rep = await openReplica({ dim: 4, metric: Metric.COSINE, mode: 'structural', policy: 'abort' });
  const results: string[] = rep.applyBatch(deltas);
  const one: boolean = rep.apply(deltas[0]);
  const bytes: Uint8Array = dv.writeStream(db, deltas, { mode: 'structural' });
  const info: StreamInfo = dv.streamInfo(bytes);
  const header: Uint8Array = db.streamHeader({ firstSequence: 1n });
  const rep2 = dv.openReplicaFromStream(bytes, { efSearch: 64, policy: 'abort' });
  rep2.beginStream(info);
  const applied: StreamResult = rep2.applyStream(bytes);
  const reader = dv.streamReader({ maxPayload: 1 << 20 });
  for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
  try {
    for (const d of reader) rep2.apply(d);
    reader.finish();
  } catch (e) {
    const se = e as StreamError;
    return `${se.code} at ${se.offset} ${reader.info?.dim}`;
  } finally {
    reader.close();
  }
  const writer = dv.streamWriter(info);
  const rec: Uint8Array = writer.append(deltas[0]);
  const next: bigint = writer.nextSequence;
  writer.close();
  const { deltas: again, length } = await readStream(await writeStream(info, deltas));
  const rep3 = await openReplicaFromStream(info);
  rep3.close();
  rep2.close();
  rep.seekCheckpoint(cp);
  const hits: Hit[] = rep.search([1, 0, 0, 0], 1);
  const same: boolean = rep.stateHash() === db.stateHash();
  try {
    db.delete('missing');
  } catch (e) {
    if (e instanceof DeltavecError) return `${e.code} ${e.status} ${e.message}`;
  }
  // @ts-expect-error -- ids are strings
  db.insert(1, [0, 0, 0, 0]);
  const batch: InsertItem[] = [{ id: 'b', vector: new Float32Array(4), meta: { tag: 'y' } }, { id: 'c', vector: [0, 0, 1, 0] }];
  const inserted: number = db.insertBatch(batch);
  const opts: SearchOptions = { ef: 64, filter: { tag: 'y' } };
  const filtered: Hit[] = db.search([0, 0, 1, 0], 2, opts);
  const withEf: Hit[] = db.search([0, 0, 1, 0], 2, 32);
  const fromReplica: Hit[] = rep.search([0, 0, 1, 0], 2, { filter: { tag: 'y' } });
  // @ts-expect-error -- metadata values are strings
  db.insertBatch([{ id: 'd', vector: [0, 0, 0, 1], meta: { n: 1 } }]);
  // @ts-expect-error -- filter values are strings
  db.search([0, 0, 1, 0], 2, { filter: { n: 1 } });
  cap.close();
  rep.close();
  db.close();
  return `${backend} ${results.length} ${one} ${hits[0]?.id} ${same} ${hashHex(cp.stateHash)} ${header.length} ${applied.failedOffset} ${rec.length} ${next} ${again.length} ${length} ${info.metric} ${inserted} ${filtered.length} ${withEf.length} ${fromReplica.length}`;
}

async function parallel(): Promise<bigint> {
  const r = await openParallelReplica({ dim: 4, workers: 4, memoryBytes: 64 * 1024 * 1024, feedBytes: DEFAULT_FEED_BYTES, quiet: true });
  const db = await openDb({ dim: 4 });
  const empty = await writeStream(db, []);
  db.close();
  const res: StreamResult = await r.applyStream(empty);
  if (!res.ok) throw new Error(`${res.status} at ${res.failedAt} (${res.failedSequence}, offset ${res.failedOffset})`);
  const r2 = await openParallelReplicaFromStream(empty, { workers: 2 });
  const si: StreamInfo | null = r2.streamInfo;
  await r2.close();
  const why: string | null = r.reason;
  while (!r.push(new Uint8Array(64))) await r.room();
  const pushed: number = await r.pushAll(empty) + (si ? si.dim : 0);
  const fs: FeedStatus = await r.flush({ clear: false });
  const again: FeedStatus = r.feedStatus();
  if (!fs.ok || r.feeding) throw new Error(`${fs.status} ${fs.failedSequence} ${fs.detail} ${pushed} ${again.refused}`);
  const pos: bigint = await r.position();
  await r.close();
  const pool = await createPool({ workers: 2, memoryBytes: DEFAULT_MEMORY_BYTES });
  const ok: boolean = (await pool.selfTest({ rows: 1024 })).ok;
  pool.close();
  return pos + BigInt(ok ? 1 : 0) + BigInt(why ? 0 : memoryPages(undefined, 16384));
}

void (async () => (await openDb({ dim: 2 })).close())();
void primaryToReplica;
void parallel;
void simdSupported();
void threadsSupported();

async function natsReplica(): Promise<bigint> {
  const f = await followNats({ servers: 'ws://127.0.0.1:8080', database: 'mydb', user: 'reader', pass: 'x',
    transport: 'ws', batch: 64, snapshots: true, onApply: (fo, pos) => { void fo.lag.sequences; void pos; } });
  const started: number = f.bootstraps;
  await f.waitFor(10n);
  const hits = f.replica.search(new Float32Array(4), 10);
  void hits; void started;
  if (f.error) void f.error.sequence;
  // @ts-expect-error snapshots is a boolean
  await followNats({ servers: 'x', database: 'y', snapshots: 'no' });
  await f.stop();
  return f.position;
}
void natsReplica;
