import type { DeltavecError, Replica } from './index.js';

export interface FollowNatsOptions {
  /** nats://host:port (TCP) or ws://host:port (WebSocket); a list for a cluster. */
  servers: string | string[];
  /** The database name the publisher uses (subjects dv.<database>.*). */
  database: string;
  user?: string;
  pass?: string;
  /** Default 'tcp' in Node, 'ws' in browsers. */
  transport?: 'tcp' | 'ws';
  /** Durable consumer name (recreated at the replica's position); default: an ephemeral consumer. */
  durable?: string;
  /** Messages per pull (default 64; each message holds a run of records). */
  batch?: number;
  /** false: never start from the snapshot bucket (the stream must then hold the log from its first record). */
  snapshots?: boolean;
  efSearch?: number;
  load?: object;
  /** Called after each message that applied records, with the new position; a returned promise is awaited
   *  before the next message (backpressure). */
  onApply?: (follower: NatsFollower, position: bigint) => void | Promise<void>;
}

export interface NatsFollower {
  readonly replica: Replica;
  readonly position: bigint;
  /** Times the replica was (re)created from the newest snapshot of the object store bucket: at start, and
   *  again when the stream was trimmed past a running replica (replica is then a new Replica). */
  readonly bootstraps: number;
  /** Records pending after the last one received, and its age in seconds when some are pending. */
  readonly lag: { sequences: number; seconds: number };
  /** Set once a record was refused (.sequence: the stream sequence); the follower has stopped. */
  readonly error: (DeltavecError & { sequence?: number }) | null;
  /** Settles when the follower stops (rejects with error after a refusal). */
  readonly done: Promise<void>;
  /** Resolves once position >= sequence; rejects if the follower stops first. */
  waitFor(sequence: bigint | number): Promise<bigint>;
  stop(): Promise<void>;
}

/** Follows a database published by deltavec's NATS JetStream publisher into a new wasm replica. */
export function followNats(opts: FollowNatsOptions): Promise<NatsFollower>;
