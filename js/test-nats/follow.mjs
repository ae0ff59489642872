// follow.mjs -- a Node replica for the cross-language replication test (tests/test_transport_replicas.c):
// follows database DV_DB through followNats over DV_TRANSPORT (tcp | ws) until position DV_TARGET, then
// prints one JSON line {position, hash, top10} with the top-10 ids of each query in the file DV_QUERIES.
// DV_EXPECT_BOOTSTRAP=1: fails unless the replica started from the object store's snapshot;
// DV_NO_SNAPSHOTS=1: follows without the snapshot bucket (a trimmed stream then stops it with DV_EGAP).
// Usage: DV_NATS_URL=... DV_DB=... DV_TARGET=... DV_QUERIES=q.json [DV_TRANSPORT=ws] node follow.mjs
import { readFileSync } from 'node:fs';
import { followNats } from '../src/nats.js';
import { hashHex } from '../src/index.js';

const env = process.env;
const f = await followNats({
  servers: env.DV_NATS_URL, database: env.DV_DB, user: env.DV_NATS_USER, pass: env.DV_NATS_PASS,
  transport: env.DV_TRANSPORT || 'tcp', snapshots: env.DV_NO_SNAPSHOTS !== '1',
});
if (env.DV_EXPECT_BOOTSTRAP === '1' && f.bootstraps !== 1) {
  console.log(JSON.stringify({ error: 'no bootstrap from the snapshot', position: String(f.position) }));
  await f.stop();
  process.exit(1);
}
const timer = setTimeout(() => { console.error(`follow.mjs: timed out at ${f.position}`); process.exit(3); }, 300000);
try {
  await f.waitFor(BigInt(env.DV_TARGET));
} catch (e) {
  console.log(JSON.stringify({ error: e.code, sequence: e.sequence, message: e.message }));
  process.exit(1);
}
clearTimeout(timer);
const queries = JSON.parse(readFileSync(env.DV_QUERIES, 'utf8'));
const top10 = queries.map((q) => f.replica.search(new Float32Array(q), 10, 64).map((h) => h.id));
console.log(JSON.stringify({ position: String(f.position), hash: hashHex(f.replica.stateHash()), top10 }));
await f.stop();
