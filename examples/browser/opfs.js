// opfs.js -- a replica that survives a reload: its snapshot (db.snapshot(), docs/STORAGE.md "Snapshot file")
// lives in the Origin Private File System; a later visit opens it (openReplica({ snapshot })) and fetches
// only the stream after the snapshot's sequence (server.mjs: native.dvs?from=N), then saves again.
// What the page did is in window.__deltavec (read by js/test-browser/opfs.mjs).
import { load, hashHex } from '/js/src/index.js';

const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);
const state = { done: false, error: null };
window.__deltavec = state;
const SNAPSHOT = 'replica.dvp', META = 'replica.json';

async function folder() {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle('deltavec', { create: true });
}

async function readSaved(dir) {
  try {
    const meta = JSON.parse(await (await (await dir.getFileHandle(META)).getFile()).text());
    const bytes = new Uint8Array(await (await (await dir.getFileHandle(SNAPSHOT)).getFile()).arrayBuffer());
    return { meta, bytes };
  } catch (e) {
    if (e.name === 'NotFoundError') return null;
    throw e;
  }
}

// createWritable() writes to a swap file that replaces the old one only at close(): a crash or a closed tab
// midway leaves the previous snapshot. The small META file is written after it, so it never names a
// snapshot that is not there; the snapshot's own header is what the load trusts (sequence, state hash).
async function writeFile(dir, name, data) {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await w.write(data);
  await w.close();
}

async function main() {
  const dv = await load();
  const dir = await folder();
  if (q.get('reset') === '1') {
    for (const name of [META, SNAPSHOT]) await dir.removeEntry(name).catch(() => {});
  }
  $('forget').onclick = async () => {
    for (const name of [META, SNAPSHOT]) await dir.removeEntry(name).catch(() => {});
    $('saved').textContent = 'forgotten: the next visit starts from the beginning';
  };

  // 1. The saved replica, if any: the db and its position come from the snapshot bytes alone.
  const saved = await readSaved(dir);
  let replica = null;
  if (saved) {
    const t0 = performance.now();
    replica = dv.openReplica({ snapshot: saved.bytes });
    state.restored = { sequence: Number(replica.position), bytes: saved.bytes.length, ms: performance.now() - t0,
      hash: hashHex(replica.stateHash()) };
    $('saved').textContent = `snapshot of ${saved.bytes.length} bytes at sequence ${replica.position}, ` +
      `opened in ${state.restored.ms.toFixed(1)} ms (saved ${saved.meta.savedAt})`;
  } else {
    $('saved').textContent = 'none: streaming from the first delta';
  }

  // 2. The stream from the next sequence on. Its header carries the primary's config: a new replica is created
  //    from it, a restored one checks it (beginStream: DV_ECONFIG if it is another primary's stream).
  const from = replica ? replica.position + 1n : 1n;
  const upto = q.get('upto');
  const res = await fetch(`/vectors/native.dvs?from=${from}${upto ? `&upto=${upto}` : ''}`);
  if (!res.ok) throw new Error(`stream: HTTP ${res.status} ${await res.text()}`);
  const body = res.body.getReader();
  const reader = dv.streamReader();
  let fetchedBytes = 0, applied = 0;
  for (;;) {
    const { value, done } = await body.read();
    if (value) {
      fetchedBytes += value.length;
      reader.push(value);
      if (reader.info && !replica) replica = dv.openReplicaFromStream(reader.info);
      else if (reader.info && !replica.streamInfo) replica.beginStream(reader.info);
      for (const delta of reader) {
        replica.apply(delta);
        applied++;
      }
    }
    if (done) break;
  }
  reader.finish(); // throws DV_ETRUNCATED for a torn response
  reader.close();
  Object.assign(state, { from: Number(from), fetchedBytes, applied, position: Number(replica.position),
    count: replica.db.count, hash: hashHex(replica.stateHash()) });
  $('fetched').textContent = `${fetchedBytes} bytes from sequence ${from}: ${applied} deltas`;
  $('position').textContent = String(replica.position);
  $('count').textContent = String(replica.db.count);
  $('hash').textContent = state.hash;

  // 3. Save the replica for the next visit.
  const snap = replica.snapshot();
  await writeFile(dir, SNAPSHOT, snap);
  await writeFile(dir, META, JSON.stringify({ sequence: state.position, hash: state.hash, bytes: snap.length,
    savedAt: new Date().toISOString() }));
  state.saved = { sequence: state.position, bytes: snap.length };
  $('stored').textContent = `${snap.length} bytes at sequence ${state.position}`;
  replica.close();
  state.done = true;
}

main().catch((e) => { state.error = String(e && e.stack || e); state.done = true; $('saved').textContent = `error: ${e}`; });
