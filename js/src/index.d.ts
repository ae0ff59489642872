// Types of the deltavec npm package (hand-written; see docs/JS.md).
export type MetricName = 'l2' | 'ip' | 'cosine';
export interface DbOptions {
  dim: number; metric?: MetricName | 0 | 1 | 2; M?: number; efConstruction?: number; efSearch?: number;
  seed?: number | bigint; load?: LoadOptions;
  /** Bytes of Db.snapshot(): open that db (its config; the other fields are ignored). */
  snapshot?: Uint8Array | ArrayBuffer;
}
export interface ReplicaOptions extends DbOptions {
  mode?: 'structural' | 'logical'; policy?: 'abort' | 'omit' | 'replace'; coherence?: boolean; position?: number | bigint;
}
export interface LoadOptions { simd?: 'auto' | boolean; url?: string | URL; fresh?: boolean }
export interface Hit { id: string; distance: number }
export interface CaptureOptions {
  slotCount?: number; payloadSize?: number; parts?: number; compress?: boolean; batchMaxDeltas?: number;
  firstSequence?: number | bigint;
}
export declare class DeltavecError extends Error { status: number; code: string; detail?: string }
export interface SnapshotMeta { sequence: bigint; stateHash: bigint }
export declare const Metric: Readonly<{ L2: 0; IP: 1; COSINE: 2 }>;
export declare const CaptureParts: Readonly<{ VECTORS: 1; METADATA: 2; HNSW: 4; ALL: 7 }>;
export declare function simdSupported(): boolean;
export declare function threadsSupported(): boolean;
export declare function load(opts?: LoadOptions): Promise<Deltavec>;
export declare function openDb(opts: DbOptions | { snapshot: Uint8Array | ArrayBuffer; load?: LoadOptions }): Promise<Db>;
export declare function openReplica(opts: ReplicaOptions | (Partial<ReplicaOptions> & { snapshot: Uint8Array | ArrayBuffer })): Promise<Replica>;
export declare function splitStream(buf: Uint8Array | ArrayBuffer): Uint8Array[];
export declare function joinStream(deltas: Uint8Array[]): Uint8Array;
export declare function hashHex(h: bigint): string;
export declare class Deltavec {
  readonly backend: 'simd128' | 'scalar'; readonly flavor: 'simd' | 'scalar'; readonly memoryBytes: number;
  openDb(opts: DbOptions | { snapshot: Uint8Array | ArrayBuffer }): Db;
  openReplica(opts: ReplicaOptions | (Partial<ReplicaOptions> & { snapshot: Uint8Array | ArrayBuffer })): Replica;
  statusName(status: number): string; describe(delta: Uint8Array): string; verify(delta: Uint8Array): void;
}
export declare class Db {
  readonly dim: number; readonly count: number; readonly memoryUsage: number;
  /** Set when the db was opened from a snapshot. */
  readonly snapshotMeta: SnapshotMeta | null;
  /** The whole db as bytes; openDb({ snapshot }) restores it (same state hash). */
  snapshot(): Uint8Array;
  insert(id: string, vec: Float32Array | number[], meta?: Record<string, string>): void;
  update(id: string, vec: Float32Array | number[]): void;
  updateSparse(id: string, idx: Uint32Array | number[], values: Float32Array | number[]): void;
  delete(id: string): void;
  setMeta(id: string, key: string, value: string | null): void;
  get(id: string): Float32Array;
  meta(id: string): Record<string, string>;
  search(query: Float32Array | number[], k: number, ef?: number): Hit[];
  searchExact(query: Float32Array | number[], k: number): Hit[];
  setEfSearch(ef: number): void;
  stateHash(): bigint;
  clone(): Db;
  startCapture(opts?: CaptureOptions): Capture;
  close(): void;
}
export interface Checkpoint { sequence: bigint; stateHash: bigint }
export declare class Capture {
  poll(max?: number): Uint8Array[];
  release(sequence: bigint | number): void;
  checkpoint(): Checkpoint;
  readonly lastSequence: bigint;
  flush(): void; stop(): void;
  stats(): Record<'deltas' | 'writes' | 'skippedUnchanged' | 'sparseUpdates' | 'denseUpdates' | 'payloadBytes' | 'rawBytes' | 'refusedFull', number>;
  close(): void;
}
export declare class Replica {
  readonly db: Db; readonly position: bigint; readonly lastError: string;
  snapshot(): Uint8Array;
  apply(delta: Uint8Array): boolean;
  applyBatch(deltas: Uint8Array[]): string[];
  seek(sequence: bigint | number): void;
  seekCheckpoint(cp: Checkpoint): void;
  stats(): Record<'applied' | 'duplicates' | 'refused' | 'omitted' | 'replaced', number>;
  stateHash(): bigint;
  search(query: Float32Array | number[], k: number, ef?: number): Hit[];
  close(): void;
}
