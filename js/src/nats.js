// nats.js -- follow a deltavec database over NATS JetStream into a wasm replica (Node: TCP or WebSocket;
// browsers: WebSocket). The server-side layout is the C publisher's (docs/REPLICATION.md):
//   stream DV_<db>, subject dv.<db>.deltas   a run of consecutive records (64-byte header + payload each,
//                                            back to back) per message; Nats-Msg-Id "<db id>:<first>[-<last>]";
//                                            with header Dv-Codec: zstd the data is a zstd frame of the run
//   stream DV_<db>_META, subject dv.<db>.meta the 80-byte stream header (config, db id)
//   object store bucket dv_<db>              snapshots "snap-<20-digit sequence>"
// The replica is the newest snapshot of the bucket when there is one (a stream trimmed past its start
// needs it), else created from the meta header; a pull consumer starts at the message holding the record
// after the replica's position. Every record of a message is verified before any is applied; records at or
// below the position are duplicates (ignored), the others applied, then the message is acknowledged. A
// record past position + 1, a message of another database, or a record the replica refuses stops the
// follower with that status and the stream sequence, the message not acknowledged. The NATS client packages
// are optional dependencies, loaded only when followNats is called.
import { DeltavecError, load } from './index.js';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

async function connectTo(opts) {
  const co = { servers: opts.servers, user: opts.user, pass: opts.pass, timeout: opts.timeout || 5000,
    maxReconnectAttempts: -1, reconnectTimeWait: 250 };
  const ws = opts.transport === 'ws' || (opts.transport === undefined && typeof process === 'undefined');
  if (ws) {
    if (!globalThis.WebSocket) globalThis.WebSocket = (await import('ws')).WebSocket; // Node 20 has none
    const { wsconnect } = await import('@nats-io/nats-core');
    return wsconnect(co);
  }
  const { connect } = await import('@nats-io/transport-node');
  return connect(co);
}

const HEADER = 64;
const MAX_RUN = 128 * 1024 * 1024; // bound on a decompressed run (as the C follower's)

/* Content size of the zstd frame at the start of d (RFC 8878 frame header), or -1 when absent/invalid. */
function zstdContentSize(d) {
  if (d.length < 6 || d[0] !== 0x28 || d[1] !== 0xb5 || d[2] !== 0x2f || d[3] !== 0xfd) return -1;
  const fhd = d[4], single = (fhd >> 5) & 1, fcsFlag = fhd >> 6, dictFlag = fhd & 3;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag];
  if (fcsBytes === 0 || d.length < at + fcsBytes) return -1;
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + d[at + i];
  return fcsBytes === 2 ? v + 256 : v;
}

/* A message's run of records: its data, or (Dv-Codec: zstd) the data decompressed, size bounded. */
function runBytes(m, zstd) {
  const codec = m.headers && m.headers.get('Dv-Codec');
  if (!codec) return m.data;
  if (codec !== 'zstd') throw fail('DV_EUNSUPPORTED', -25, `message codec "${codec.slice(0, 32)}" is not supported (zstd is)`);
  const size = zstdContentSize(m.data);
  if (size <= 0) throw fail('DV_ECORRUPT', -15, 'zstd message without a valid frame header and content size');
  if (size > MAX_RUN) throw fail('DV_ETOOBIG', -16, `zstd message of ${size} bytes, at most ${MAX_RUN}`);
  let out;
  try { out = zstd.decompress(m.data, new Uint8Array(size)); } catch (e) { out = null; }
  if (!out || out.length !== size) throw fail('DV_ECORRUPT', -15, 'zstd message: the frame does not decompress to its content size');
  return out;
}

/* The records of a message's data: [{seq, bytes}], each verified (framing, checksum), sequences consecutive. */
function recordsOf(dv, data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength), out = [];
  for (let off = 0; off < data.length || out.length === 0;) {
    if (data.length - off < HEADER) {
      throw fail('DV_ETRUNCATED', -11, `record ${out.length + 1} of the message: ${data.length - off} bytes, a header is 64`);
    }
    const size = HEADER + view.getUint32(off + 28, true);
    if (size > data.length - off) {
      throw fail('DV_ETRUNCATED', -11, `record ${out.length + 1} of the message: ${size} bytes, ${data.length - off} left`);
    }
    const bytes = data.subarray(off, off + size);
    dv.verify(bytes); // header and checksum of exactly these bytes
    const seq = view.getBigUint64(off, true);
    if (out.length && seq !== out[out.length - 1].seq + 1n) {
      throw fail('DV_ECORRUPT', -15, `record ${out.length + 1} of the message: sequence ${seq} after ${out[out.length - 1].seq} (sequences not consecutive)`);
    }
    out.push({ seq, bytes });
    off += size;
  }
  return out;
}

/* "<hex>:<first>" or "<hex>:<first>-<last>" -> {db, first, last} (bigints), else null. */
function parseMsgId(id) {
  const m = /^([0-9a-f]+):([0-9]{1,20})(?:-([0-9]{1,20}))?$/.exec(id || '');
  if (!m) return null;
  const first = BigInt(m[2]), last = m[3] === undefined ? first : BigInt(m[3]);
  return first >= 1n && last >= first ? { db: m[1], first, last } : null;
}

/* The run a stored message names: its id, else its first record's sequence; null if neither. */
function runOfStored(sm) {
  const r = parseMsgId(sm.header && sm.header.get('Nats-Msg-Id'));
  if (r) return r;
  if (!sm.data || sm.data.length < HEADER) return null;
  const seq = new DataView(sm.data.buffer, sm.data.byteOffset, sm.data.byteLength).getBigUint64(0, true);
  return { db: '', first: seq, last: seq };
}

/* Stream sequence of the message holding record `seq` (binary search with direct gets; LastSeq + 1 past the end). */
async function findStreamSeq(jsm, stream, seq) {
  const si = await jsm.streams.info(stream);
  let lo = si.state.first_seq, end = si.state.last_seq + 1;
  if (!si.state.messages) return Math.max(lo, 1);
  const runAt = async (from, to) => {
    for (let q = from; q < to && q < from + 64; q++) {
      const sm = await jsm.streams.getMessage(stream, { seq: q }).catch(() => null);
      const r = sm && runOfStored(sm);
      if (r) return { at: q, ...r };
    }
    return null;
  };
  while (lo < end) {
    const mid = lo + Math.floor((end - lo) / 2);
    const r = await runAt(mid, end);
    if (!r) end = mid;
    else if (r.last < seq) lo = r.at + 1;
    else if (r.first > seq) end = mid;
    else { lo = r.at; break; }
  }
  return lo;
}

function fail(name, status, message, sequence) {
  const e = new DeltavecError(status, name, message, 'followNats');
  e.sequence = sequence;
  return e;
}

/**
 * A running follower. replica: the wasm Replica (read it freely between messages: JS is single-threaded);
 * position (bigint); lag {sequences, seconds}; error (DeltavecError with .sequence, the stream sequence, once
 * stopped by a refusal); done: a promise settled when it stops; stop(): closes the connection.
 */
class NatsFollower {
  constructor(nc, replica, names) {
    this.nc = nc;
    this.replica = replica;
    this.names = names;
    this.lag = { sequences: 0, seconds: 0 };
    this._lastRec = 0n;
    /** Times the replica was (re)created from a snapshot of the bucket. */
    this.bootstraps = 0;
    this.error = null;
    this._waiters = [];
    this._msgs = null;
    this.done = null;
  }
  get position() { return this.replica.position; }
  /* Lag in records: pending counts messages (runs), so the stream's last record is read now and then. */
  _lag(pendingMsgs, tsNanos) {
    this.lag.seconds = pendingMsgs ? (Date.now() - tsNanos / 1e6) / 1e3 : 0;
    if (!pendingMsgs) { this.lag.sequences = 0; return; }
    const pos = this.position;
    this.lag.sequences = this._lastRec > pos ? Number(this._lastRec - pos) : pendingMsgs;
    if (this._lagBusy || Date.now() - (this._lagAt || 0) < 250) return;
    this._lagBusy = true;
    this._lagAt = Date.now();
    this._jsm.streams.getMessage(this.names.stream, { last_by_subj: this.names.deltas })
      .then((sm) => { const r = sm && runOfStored(sm); if (r) this._lastRec = r.last; })
      .catch(() => {}).finally(() => { this._lagBusy = false; });
  }
  /** Resolves once position >= sequence; rejects if the follower stops first. */
  waitFor(sequence) {
    const target = BigInt(sequence);
    if (this.position >= target) return Promise.resolve(this.position);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this._waiters.push({ target, resolve, reject }));
  }
  _wake(err) {
    const pos = this.position;
    this._waiters = this._waiters.filter((w) => {
      if (err) { w.reject(err); return false; }
      if (pos >= w.target) { w.resolve(pos); return false; }
      return true;
    });
  }
  async stop() {
    if (this._msgs) this._msgs.stop();
    if (!this.nc.isClosed()) await this.nc.close();
    if (this.done) await this.done.catch(() => {});
  }
}

/* ---- the snapshot bucket (the NATS Object Store layout the C publisher writes: docs/REPLICATION.md) ---- */

/* base64url with padding: the meta subject of an object (as the NATS clients and the C publisher name it). */
function b64url(str) {
  const b = new TextEncoder().encode(str);
  let bin = '';
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_');
}

function unb64url(s) {
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch { return null; }
}

/* Sequence of the newest live snapshot in the bucket (0n: none, or no bucket). */
async function newestSnapshot(jsm, names) {
  const prefix = `$O.${names.bucket}.M.`;
  const si = await jsm.streams.info(names.objStream, { subjects_filter: `${prefix}>` }).catch(() => null);
  let best = 0n;
  for (const subj of Object.keys((si && si.state.subjects) || {})) {
    const name = subj.startsWith(prefix) ? unb64url(subj.slice(prefix.length)) : null;
    const m = /^snap-([0-9]{20})$/.exec(name || '');
    if (!m || BigInt(m[1]) <= best) continue;
    const meta = await objectMeta(jsm, names, name).catch(() => null);
    if (meta && !meta.deleted) best = BigInt(m[1]);
  }
  return best;
}

async function objectMeta(jsm, names, name) {
  const sm = await jsm.streams.getMessage(names.objStream, { last_by_subj: `$O.${names.bucket}.M.${b64url(name)}` });
  if (!sm) return null;
  const meta = JSON.parse(new TextDecoder().decode(sm.data));
  if (meta.deleted) return meta;
  if (typeof meta.nuid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(meta.nuid) || !Number.isSafeInteger(meta.size) ||
      !Number.isSafeInteger(meta.chunks) || meta.size < 0 || meta.chunks < 0 || meta.chunks > meta.size ||
      typeof meta.digest !== 'string') {
    throw fail('DV_ECORRUPT', -15, `object ${name}: unreadable meta`, 0);
  }
  return meta;
}

/* The bytes of object `name`: its chunks in order, size and SHA-256 digest checked. */
async function getObject(jsm, names, name) {
  const meta = await objectMeta(jsm, names, name);
  if (!meta || meta.deleted) throw fail('DV_ENOTFOUND', -4, `object ${name} not found in bucket ${names.bucket}`, 0);
  const out = new Uint8Array(meta.size), subj = `$O.${names.bucket}.C.${meta.nuid}`;
  let got = 0, seq = 0;
  for (let i = 0; i < meta.chunks; i++) {
    const sm = await jsm.streams.getMessage(names.objStream, { seq: seq + 1, next_by_subj: subj });
    if (!sm) throw fail('DV_ETRUNCATED', -11, `object ${name}: chunk ${i + 1} of ${meta.chunks} missing`, 0);
    if (sm.data.length > meta.size - got) throw fail('DV_ECORRUPT', -15, `object ${name}: chunks exceed ${meta.size} bytes`, 0);
    out.set(sm.data, got);
    got += sm.data.length;
    seq = sm.seq;
  }
  if (got !== meta.size) throw fail('DV_ETRUNCATED', -11, `object ${name}: ${got} bytes, meta says ${meta.size}`, 0);
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', out));
  let bin = '';
  for (const x of d) bin += String.fromCharCode(x);
  const digest = `SHA-256=${btoa(bin).replace(/\+/g, '-').replace(/\//g, '_')}`;
  if (digest.replace(/=+$/, '') !== meta.digest.replace(/=+$/, '')) throw fail('DV_ECHECKSUM', -12, `object ${name}: digest mismatch`, 0);
  return out;
}

/* The replica: the newest snapshot (checked against the meta's config), else an empty one from the meta. */
async function openReplicaOn(dv, jsm, names, metaBytes, opts) {
  const info = dv.streamInfo(metaBytes);
  const snap = opts.snapshots === false ? 0n : await newestSnapshot(jsm, names);
  if (!snap) return { replica: dv.openReplicaFromStream(info, { efSearch: opts.efSearch }), info, snapshot: 0n };
  const name = `snap-${snap.toString().padStart(20, '0')}`;
  const bytes = await getObject(jsm, names, name);
  const replica = dv.openReplica({ snapshot: bytes, efSearch: opts.efSearch, mode: info.mode });
  try {
    replica.beginStream({ ...info, firstSequence: replica.position + 1n }); // same config (DV_ECONFIG otherwise)
  } catch (e) { replica.close(); throw e; }
  return { replica, info, snapshot: replica.position };
}

/**
 * Follows database `database` on the NATS servers into a new wasm replica.
 * opts: servers (string or list; nats://host:port for TCP, ws://host:port for WebSocket), database,
 * user, pass, transport ('tcp' | 'ws'; default tcp in Node, ws in browsers), durable (a durable consumer
 * name, else an ephemeral consumer), batch (messages per pull, default 64), efSearch, load (load() options),
 * snapshots (false: never bootstrap from the bucket, the stream must hold the log from its start),
 * onApply(follower, sequence) (called after each message that applied records; a promise it returns is
 * awaited before the next message: backpressure).
 * A stream trimmed past the running replica (it fell behind) makes it start again from the newest snapshot
 * (follower.replica is then a new Replica; follower.bootstraps counts).
 * Resolves once connected and the replica exists; applying continues in the background.
 */
export async function followNats(opts = {}) {
  const db = opts.database;
  if (!NAME.test(db || '')) throw new DeltavecError(-1, 'DV_EINVAL', `bad database name ${db}`, 'followNats');
  if (opts.durable !== undefined && !NAME.test(opts.durable)) {
    throw new DeltavecError(-1, 'DV_EINVAL', `bad durable name ${opts.durable}`, 'followNats');
  }
  const names = { stream: `DV_${db}`, deltas: `dv.${db}.deltas`, metaStream: `DV_${db}_META`, meta: `dv.${db}.meta`,
    bucket: `dv_${db}`, objStream: `OBJ_dv_${db}` };
  const dv = await load(opts.load);
  const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } = await import('@nats-io/jetstream');
  const zstd = await import('fzstd');
  let nc;
  try {
    nc = await connectTo(opts);
  } catch (e) {
    throw new DeltavecError(-35, 'DV_ENETWORK', `connect: ${e.message}`, 'followNats');
  }
  let replica = null;
  try {
    const jsm = await jetstreamManager(nc);
    const meta = await jsm.streams.getMessage(names.metaStream, { last_by_subj: names.meta });
    if (!meta) throw fail('DV_ENOTFOUND', -4, `no ${names.meta}: nothing published yet`, 0);
    const opened = await openReplicaOn(dv, jsm, names, meta.data, opts);
    replica = opened.replica;
    const f = new NatsFollower(nc, replica, names);
    f.dbId = opened.info.dbId;
    f.bootstraps = opened.snapshot ? 1 : 0;
    f._jsm = jsm;
    f._zstd = zstd;
    // A consumer starting at the message that holds the record after the replica's position.
    const batch = opts.batch || 64;
    f._consume = async () => {
      const start = await findStreamSeq(jsm, names.stream, f.replica.position + 1n);
      const cfg = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start,
        filter_subject: names.deltas, max_ack_pending: batch * 4 };
      if (opts.durable) {
        await jsm.consumers.delete(names.stream, opts.durable).catch(() => {});
        cfg.durable_name = opts.durable;
      } else {
        if (f._consumerName) await jsm.consumers.delete(names.stream, f._consumerName).catch(() => {});
        cfg.inactive_threshold = 30e9; // nanoseconds: the server drops an abandoned ephemeral consumer
      }
      const ci = await jsm.consumers.add(names.stream, cfg);
      f._consumerName = ci.name;
      const consumer = await jetstream(nc).consumers.get(names.stream, ci.name);
      return consumer.consume({ max_messages: batch });
    };
    f._msgs = await f._consume();
    f.done = run(f, dv, opts);
    return f;
  } catch (e) {
    if (replica) replica.close();
    await nc.close().catch(() => {});
    if (e instanceof DeltavecError) throw e;
    throw new DeltavecError(-35, 'DV_ENETWORK', e.message, 'followNats');
  }
}

/* Checks a message (origin, every record) and applies the records past the position; returns how many. */
function applyMessage(f, dv, m) {
  const recs = recordsOf(dv, runBytes(m, f._zstd));
  const first = recs[0].seq, last = recs[recs.length - 1].seq;
  const id = m.headers && m.headers.get('Nats-Msg-Id');
  const named = parseMsgId(id);
  const zero = /^0*$/.test(f.dbId);
  if (!zero && (!named || named.db !== f.dbId)) {
    throw fail('DV_EFENCED', -34, `not published by database ${f.dbId} (message id ${id || 'none'})`);
  }
  if (named && (named.first !== first || named.last !== last)) {
    throw fail('DV_ECORRUPT', -15, `message id names records ${named.first}-${named.last}, it holds ${first}-${last}`);
  }
  const pos = f.replica.position;
  if (first > pos + 1n) throw fail('DV_EGAP', -17, `records ${first}-${last} after position ${pos}: the stream was trimmed past this replica and no newer snapshot covers the records in between`);
  let n = 0;
  for (const r of recs) if (r.seq > pos && f.replica.apply(r.bytes)) n++;
  return n;
}

/*
 * The stream was trimmed past a running replica: start again from the newest snapshot, if it is newer than
 * the position and of the same database, and consume from the message after it. false: no such snapshot.
 */
async function rebootstrap(f, dv, opts) {
  const pos = f.position, jsm = f._jsm, names = f.names;
  if (opts.snapshots === false || (await newestSnapshot(jsm, names)) <= pos) return false;
  const meta = await jsm.streams.getMessage(names.metaStream, { last_by_subj: names.meta });
  if (!meta) return false;
  const opened = await openReplicaOn(dv, jsm, names, meta.data, opts);
  if (opened.replica.position <= pos || opened.info.dbId !== f.dbId) {
    opened.replica.close();
    if (opened.info.dbId !== f.dbId) throw fail('DV_ECONFIG', -27, `this replica follows database ${f.dbId}, the server now holds ${opened.info.dbId}`);
    return false;
  }
  const old = f.replica;
  f.replica = opened.replica;
  old.close();
  f.bootstraps++;
  f._msgs = await f._consume();
  return true;
}

async function run(f, dv, opts) {
  try {
    for (let again = true; again;) {
      again = false;
      for await (const m of f._msgs) {
        const sseq = m.seq;
        let n = 0;
        try {
          n = applyMessage(f, dv, m);
        } catch (e) {
          let err = e;
          if (e instanceof DeltavecError && e.code === 'DV_EGAP') {
            f._msgs.stop();
            try { again = await rebootstrap(f, dv, opts); } catch (e2) { err = e2; }
            if (again) break;
          }
          if (!(err instanceof DeltavecError)) err = fail('DV_ECORRUPT', -15, err.message);
          err.sequence = sseq;
          err.message = `stream sequence ${sseq}: ${err.detail || err.message}`;
          f.error = err;
          f._wake(err);
          f._msgs.stop();
          break;
        }
        m.ack();
        f._lag(m.info.pending, m.info.timestampNanos);
        if (n && opts.onApply) await opts.onApply(f, f.replica.position);
        f._wake(null);
      }
    }
  } finally {
    if (!f.nc.isClosed()) await f.nc.close().catch(() => {});
  }
  if (f.error) throw f.error;
}
