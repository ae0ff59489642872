import type { StreamResult, StreamInfo } from './index.js';
export type { StreamResult } from './index.js';
/** Counters of the feed (push / pushAll) since the replica opened. */
export interface FeedStatus {
  /** false when a pushed delta was refused since the last flush. */
  ok: boolean;
  /** C status name of the first refusal since the last flush ("DV_OK" if none). */
  status: string;
  pushed: number;
  /** Deltas the dispatcher has taken from the ring and answered. */
  consumed: number;
  applied: number;
  duplicates: number;
  /** Refused deltas: the first refusal and every later delta that waits for it (DV_EGAP). */
  refused: number;
  /** Position after the last feed batch. */
  position: bigint;
  /** Sequence of the first refusal: re-push from here. */
  failedSequence: bigint | null;
  detail: string | null;
  /** Times the dispatcher was woken from idle to drain the ring (0 on the one-thread fallback). */
  drains: number;
}
export declare const DEFAULT_FEED_BYTES: number;
export interface ParallelStats { applied: number; duplicates: number; refused: number; omitted: number; replaced: number; parallelDeltas?: number; barriers?: number; epochs?: number; edgeOps?: number; shortRuns?: number }
export interface ParallelInfo { position: bigint; hash: bigint; count: number; running: number; stats: ParallelStats }
export interface ParallelReplicaOptions {
  dim: number; metric?: 'l2' | 'ip' | 'cosine' | number; M?: number; efConstruction?: number; efSearch?: number;
  seed?: number | bigint;
  /** Worker loops beside the dispatcher worker, which applies a share too (default 4; on 2 cores, 1); 0 = inline apply on the dispatcher worker. */
  workers?: number;
  /** false: force the one-thread fallback. */
  threads?: boolean;
  epochMax?: number;
  /** Runs shorter than this between deletes/BATCHes go inline (dv_apply_config.min_run; default 64, 1 = always parallel). */
  minRun?: number;
  /**
   * Size of the shared memory in bytes, fixed for the replica's life (default 256 MiB; reserved address space,
   * RAM only as pages are touched). When it is full the apply refuses with DV_ENOMEM at the last good state.
   */
  memoryBytes?: number;
  /** Payload bytes of the feed ring (default 4 MiB, rounded up to a power of two; largest delta: half). */
  feedBytes?: number;
  url?: string | URL;
  load?: { simd?: boolean | 'auto'; url?: string };
  quiet?: boolean;
}
export interface ParallelReplica {
  /** true when worker loops apply (shared memory and workers >= 1). */
  readonly parallel: boolean;
  /** true when running on worker threads over a shared WebAssembly.Memory. */
  readonly shared: boolean;
  readonly workers: number;
  /** Why parallel is false (null when it is true). */
  readonly reason: string | null;
  /** The stream header it was opened from (openParallelReplicaFromStream), else null. */
  readonly streamInfo: StreamInfo | null;
  /**
   * Applies a stream (docs/FORMAT.md section 10: stream header, then records), the header checked first
   * (DV_ECONFIG: nothing applied). Problems are reported in the result, not thrown.
   */
  applyStream(bytes: Uint8Array): Promise<StreamResult>;
  /**
   * Hands one delta to the dispatcher through the feed ring in shared memory; never blocks. false: the ring is
   * full (await room()). Throws DeltavecError (DV_ETRUNCATED, DV_ETOOBIG, DV_EINVAL) for input it cannot carry.
   */
  push(delta: Uint8Array): boolean;
  /** Resolves when the dispatcher has taken something from the ring. */
  room(): Promise<void>;
  /** push for each delta of a list or of a stream (its config checked first: DV_ECONFIG), waiting for room; resolves to the count. */
  pushAll(deltas: Uint8Array[] | Uint8Array): Promise<number>;
  /** Resolves when every pushed delta is answered and the dispatcher idle; clear (default true) resets the refusal. */
  flush(opts?: { clear?: boolean }): Promise<FeedStatus>;
  feedStatus(): FeedStatus;
  /** true while the dispatcher applies from the feed. */
  readonly feeding: boolean;
  info(): Promise<ParallelInfo>;
  stateHash(): Promise<bigint>;
  position(): Promise<bigint>;
  stats(): Promise<ParallelStats>;
  close(): Promise<void>;
}
export declare function openParallelReplica(opts: ParallelReplicaOptions): Promise<ParallelReplica>;
export declare function openParallelReplicaFromStream(source: Uint8Array | ArrayBuffer | StreamInfo, opts?: Omit<ParallelReplicaOptions, 'dim'>): Promise<ParallelReplica>;
