// follow.mjs -- a Node replica for the cross-language replication test (tests/test_transport_replicas.c):
// follows database DV_DB through followNats over DV_TRANSPORT (tcp | ws) until position DV_TARGET, then
// prints one JSON line {position, hash, top10} with the top-10 ids of each query in the file DV_QUERIES.
// DV_EXPECT_BOOTSTRAP=N: fails unless the replica was (re)created from the object store's snapshot N times;
// DV_NO_SNAPSHOTS=1: follows without the snapshot bucket (a trimmed stream then stops it with DV_EGAP);
// DV_BATCH: messages per pull; DV_PAUSE_AT / DV_RESUME_FILE: see pauseAt below.
// Usage: DV_NATS_URL=... DV_DB=... DV_TARGET=... DV_QUERIES=q.json [DV_TRANSPORT=ws] node follow.mjs
import { existsSync, readFileSync } from 'node:fs';
import { followNats } from '../src/nats.js';
import { hashHex } from '../src/index.js';

const env = process.env;

// DV_PAUSE_AT=N DV_RESUME_FILE=F: once the position reaches N, print {"paused": position} and hold the follower
// (onApply's promise) until file F exists.
function pauseAt() {
  if (!env.DV_PAUSE_AT) return undefined;
  let done = false;
  return async (f, pos) => {
    if (done || pos < BigInt(env.DV_PAUSE_AT)) return;
    done = true;
    console.log(JSON.stringify({ paused: String(pos) }));
    while (!existsSync(env.DV_RESUME_FILE)) await new Promise((r) => setTimeout(r, 50));
  };
}
// DV_TARGET, or (DV_TARGET_FILE) the number in that file once it exists (written after a pause).
async function target() {
  if (!env.DV_TARGET_FILE) return BigInt(env.DV_TARGET);
  while (!existsSync(env.DV_TARGET_FILE)) await new Promise((r) => setTimeout(r, 50));
  return BigInt(readFileSync(env.DV_TARGET_FILE, 'utf8').trim());
}
const f = await followNats({
  servers: env.DV_NATS_URL, database: env.DV_DB, user: env.DV_NATS_USER, pass: env.DV_NATS_PASS,
  transport: env.DV_TRANSPORT || 'tcp', snapshots: env.DV_NO_SNAPSHOTS !== '1',
  batch: env.DV_BATCH ? Number(env.DV_BATCH) : undefined, onApply: pauseAt(),
});

const timer = setTimeout(() => { console.error(`follow.mjs: timed out at ${f.position}`); process.exit(3); }, 300000);
try {
  await f.waitFor(await target());
} catch (e) {
  console.log(JSON.stringify({ error: e.code, sequence: e.sequence, message: e.message }));
  process.exit(1);
}
clearTimeout(timer);
if (env.DV_EXPECT_BOOTSTRAP && f.bootstraps !== Number(env.DV_EXPECT_BOOTSTRAP)) {
  console.log(JSON.stringify({ error: `${f.bootstraps} bootstraps from the snapshot`, position: String(f.position) }));
  await f.stop();
  process.exit(1);
}
const queries = JSON.parse(readFileSync(env.DV_QUERIES, 'utf8'));
const top10 = queries.map((q) => f.replica.search(new Float32Array(q), 10, 64).map((h) => h.id));
console.log(JSON.stringify({ position: String(f.position), hash: hashHex(f.replica.stateHash()), top10 }));
await f.stop();
