export interface StreamResult {
  /** true when every delta was applied or was a duplicate. */
  ok: boolean;
  /** C status name of the first refusal ("DV_OK" if none), e.g. "DV_ECHECKSUM", "DV_EGAP", "DV_ETRUNCATED". */
  status: string;
  /** Deltas found in the buffer (a truncated tail counts as one). */
  deltas: number;
  applied: number;
  duplicates: number;
  /** Highest sequence such that everything up to it is applied. */
  position: bigint;
  /** Index (in the buffer) of the refused delta, -1 if none. Later deltas were not tried. */
  failedAt: number;
  failedSequence: bigint | null;
  /** dv_apply_last_error() for a refusal. */
  detail: string | null;
  /** Time spent applying (dispatcher side), milliseconds. */
  ms: number;
}
export interface ParallelStats { applied: number; duplicates: number; refused: number; omitted: number; replaced: number; parallelDeltas?: number; barriers?: number; epochs?: number; edgeOps?: number }
export interface ParallelInfo { position: bigint; hash: bigint; count: number; running: number; stats: ParallelStats }
export interface ParallelReplicaOptions {
  dim: number; metric?: 'l2' | 'ip' | 'cosine' | number; M?: number; efConstruction?: number; efSearch?: number;
  seed?: number | bigint;
  /** Worker loops (default 4); 1 = inline apply on the dispatcher worker. */
  workers?: number;
  /** false: force the one-thread fallback. */
  threads?: boolean;
  epochMax?: number;
  /**
   * Size of the shared memory in bytes, fixed for the replica's life (default 256 MiB; reserved address space,
   * RAM only as pages are touched). When it is full the apply refuses with DV_ENOMEM at the last good state.
   */
  memoryBytes?: number;
  url?: string | URL;
  load?: { simd?: boolean | 'auto'; url?: string };
  quiet?: boolean;
}
export interface ParallelReplica {
  /** true when worker loops apply edge work (shared memory and workers >= 2). */
  readonly parallel: boolean;
  /** true when running on worker threads over a shared WebAssembly.Memory. */
  readonly shared: boolean;
  readonly workers: number;
  /** Why parallel is false (null when it is true). */
  readonly reason: string | null;
  /** Applies a stream buffer (docs/FORMAT.md section 10: 64-byte header + payload, back to back). */
  applyStream(bytes: Uint8Array): Promise<StreamResult>;
  info(): Promise<ParallelInfo>;
  stateHash(): Promise<bigint>;
  position(): Promise<bigint>;
  stats(): Promise<ParallelStats>;
  close(): Promise<void>;
}
export declare function openParallelReplica(opts: ParallelReplicaOptions): Promise<ParallelReplica>;
export declare function scanStream(bytes: Uint8Array): { deltas: Uint8Array[]; tail: number };
export declare function concatDeltas(list: Uint8Array[]): Uint8Array;
