// nats.js -- follow a deltavec database over NATS JetStream into a wasm replica (Node: TCP or WebSocket;
// browsers: WebSocket). The server-side layout is the C publisher's (docs/REPLICATION.md):
//   stream DV_<db>, subject dv.<db>.deltas   one record (64-byte header + payload) per message
//   stream DV_<db>_META, subject dv.<db>.meta the 80-byte stream header (config, db id)
// The replica is created from the meta header, a pull consumer starts at the stream sequence after the
// replica's position, and each record is verified, applied, then acknowledged. A record at or below the
// position is a duplicate (acknowledged, ignored); a record past position + 1 or one the replica refuses
// stops the follower with that status and the stream sequence, the replica unchanged, the message not
// acknowledged. The NATS client packages are optional dependencies, loaded only when followNats is called.
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

function seqOf(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
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
    this.error = null;
    this._waiters = [];
    this._msgs = null;
    this.done = null;
  }
  get position() { return this.replica.position; }
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

/**
 * Follows database `database` on the NATS servers into a new wasm replica.
 * opts: servers (string or list; nats://host:port for TCP, ws://host:port for WebSocket), database,
 * user, pass, transport ('tcp' | 'ws'; default tcp in Node, ws in browsers), durable (a durable consumer
 * name, else an ephemeral consumer), batch (messages per pull, default 256), efSearch, load (load() options),
 * onApply(follower, sequence) (called after each applied record).
 * Resolves once connected and the replica exists; applying continues in the background.
 */
export async function followNats(opts = {}) {
  const db = opts.database;
  if (!NAME.test(db || '')) throw new DeltavecError(-1, 'DV_EINVAL', `bad database name ${db}`, 'followNats');
  if (opts.durable !== undefined && !NAME.test(opts.durable)) {
    throw new DeltavecError(-1, 'DV_EINVAL', `bad durable name ${opts.durable}`, 'followNats');
  }
  const names = { stream: `DV_${db}`, deltas: `dv.${db}.deltas`, metaStream: `DV_${db}_META`, meta: `dv.${db}.meta` };
  const dv = await load(opts.load);
  const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } = await import('@nats-io/jetstream');
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
    replica = dv.openReplicaFromStream(meta.data, { efSearch: opts.efSearch });
    // The stream sequence after the replica's position (stream sequence = delta sequence + a constant).
    let start = 1;
    const last = await jsm.streams.getMessage(names.stream, { last_by_subj: names.deltas }).catch(() => null);
    if (last && last.data.length >= 64) {
      const d = seqOf(last.data), pos = replica.position;
      start = pos + 1n <= d ? last.seq - Number(d - pos - 1n) : last.seq + 1;
    }
    const cfg = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start,
      filter_subject: names.deltas, max_ack_pending: (opts.batch || 256) * 4 };
    if (opts.durable) {
      await jsm.consumers.delete(names.stream, opts.durable).catch(() => {});
      cfg.durable_name = opts.durable;
    } else {
      cfg.inactive_threshold = 30e9; // nanoseconds: the server drops an abandoned ephemeral consumer
    }
    const ci = await jsm.consumers.add(names.stream, cfg);
    const js = jetstream(nc);
    const consumer = await js.consumers.get(names.stream, ci.name);
    const f = new NatsFollower(nc, replica, names);
    f._msgs = await consumer.consume({ max_messages: opts.batch || 256 });
    f.done = run(f, dv, opts);
    return f;
  } catch (e) {
    if (replica) replica.close();
    await nc.close().catch(() => {});
    if (e instanceof DeltavecError) throw e;
    throw new DeltavecError(-35, 'DV_ENETWORK', e.message, 'followNats');
  }
}

async function run(f, dv, opts) {
  try {
    for await (const m of f._msgs) {
      const data = m.data, sseq = m.seq;
      let dup = false;
      try {
        dv.verify(data); // framing, header and checksum of exactly these bytes
        const seq = seqOf(data), pos = f.replica.position;
        if (seq > pos + 1n) throw fail('DV_EGAP', -17, `record ${seq} after position ${pos}: trimmed stream (no snapshot bootstrap in JS)`, sseq);
        dup = seq <= pos || !f.replica.apply(data);
      } catch (e) {
        const err = e.sequence !== undefined ? e
          : fail(e.code || 'DV_ECORRUPT', e.status || -15, `stream sequence ${sseq}: ${e.detail || e.message}`, sseq);
        err.sequence = sseq;
        f.error = err;
        f._wake(err);
        f._msgs.stop();
        break;
      }
      m.ack();
      f.lag.sequences = m.info.pending;
      f.lag.seconds = m.info.pending ? (Date.now() - m.info.timestampNanos / 1e6) / 1e3 : 0;
      if (!dup && opts.onApply) opts.onApply(f, f.replica.position);
      f._wake(null);
    }
  } finally {
    if (!f.nc.isClosed()) await f.nc.close().catch(() => {});
  }
  if (f.error) throw f.error;
}
