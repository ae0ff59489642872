// Types of the deltavec npm package (hand-written; see docs/JS.md).
export type MetricName = 'l2' | 'ip' | 'cosine';
export interface DbOptions {
  dim: number; metric?: MetricName | 0 | 1 | 2; M?: number; efConstruction?: number; efSearch?: number;
  seed?: number | bigint; load?: LoadOptions;
  /** Room for this many vectors taken at once (Db.reserve): a bulk load that knows its count grows nothing. */
  capacity?: number;
  /** Bytes of Db.snapshot(): open that db (its config; the other fields are ignored). */
  snapshot?: Uint8Array | ArrayBuffer;
}
export interface ReplicaOptions extends DbOptions {
  /** openReplicaFromStream: 'logical' applies a structural stream logically. */
  mode?: 'structural' | 'logical'; policy?: 'abort' | 'omit' | 'replace'; coherence?: boolean; position?: number | bigint;
}
export interface LoadOptions { simd?: 'auto' | boolean; url?: string | URL; fresh?: boolean }
export interface Hit { id: string; distance: number }
/** search() options: ef (beam width, 0 = the db's efSearch) and a metadata filter (every pair must hold). */
export interface SearchOptions { ef?: number; filter?: Record<string, string> }
/** One vector of Db.insertBatch. */
export interface InsertItem { id: string; vector: Float32Array | number[]; meta?: Record<string, string> }
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
export declare function hashHex(h: bigint): string;
export declare class Deltavec {
  readonly backend: 'simd128' | 'scalar'; readonly flavor: 'simd' | 'scalar'; readonly memoryBytes: number;
  openDb(opts: DbOptions | { snapshot: Uint8Array | ArrayBuffer }): Db;
  openReplica(opts: ReplicaOptions | (Partial<ReplicaOptions> & { snapshot: Uint8Array | ArrayBuffer })): Replica;
  statusName(status: number): string; describe(delta: Uint8Array): string; verify(delta: Uint8Array): void;
  streamReader(opts?: { maxPayload?: number }): StreamReader;
  streamWriter(source: Db | StreamInfo, opts?: StreamOptions): StreamWriter;
  readStream(bytes: Uint8Array | ArrayBuffer, opts?: { maxPayload?: number }): ReadStreamResult;
  writeStream(source: Db | StreamInfo, deltas: Uint8Array[], opts?: StreamOptions): Uint8Array;
  streamInfo(bytes: Uint8Array | ArrayBuffer): StreamInfo;
  openReplicaFromStream(source: Uint8Array | ArrayBuffer | StreamInfo, opts?: Omit<ReplicaOptions, 'dim'>): Replica;
}
export declare class Db {
  readonly dim: number; readonly count: number; readonly memoryUsage: number;
  /** Room for n vectors in all at once (dv_db_reserve); no state change. */
  reserve(n: number): void;
  /** Set when the db was opened from a snapshot. */
  readonly snapshotMeta: SnapshotMeta | null;
  /** The whole db as bytes; openDb({ snapshot }) restores it (same state hash). */
  snapshot(): Uint8Array;
  insert(id: string, vec: Float32Array | number[], meta?: Record<string, string>): void;
  /** Every item checked before the first goes in; returns the number inserted (items.length). */
  insertBatch(items: InsertItem[]): number;
  update(id: string, vec: Float32Array | number[]): void;
  updateSparse(id: string, idx: Uint32Array | number[], values: Float32Array | number[]): void;
  delete(id: string): void;
  setMeta(id: string, key: string, value: string | null): void;
  get(id: string): Float32Array;
  meta(id: string): Record<string, string>;
  search(query: Float32Array | number[], k: number, opts?: number | SearchOptions): Hit[];
  searchExact(query: Float32Array | number[], k: number): Hit[];
  setEfSearch(ef: number): void;
  stateHash(): bigint;
  clone(): Db;
  startCapture(opts?: CaptureOptions): Capture;
  streamInfo(opts?: StreamOptions): StreamInfo;
  streamHeader(opts?: StreamOptions): Uint8Array;
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
  search(query: Float32Array | number[], k: number, opts?: number | SearchOptions): Hit[];
  /** The stream header accepted by beginStream / openReplicaFromStream, else null. */
  readonly streamInfo: StreamInfo | null;
  /** Throws DeltavecError DV_ECONFIG (config differs, message names the field) or DV_EGAP; changes nothing. */
  beginStream(source: Uint8Array | ArrayBuffer | StreamInfo): void;
  /** Applies a whole stream (header checked first); throws DeltavecError (with .offset, .result) on a problem. */
  applyStream(bytes: Uint8Array): StreamResult;
  close(): void;
}
/** The header of a stream (docs/FORMAT.md section 10): the db config that makes replicas differ, and more. */
export interface StreamInfo {
  version: number; headerSize: number; deltaVersion: number;
  mode: 'structural' | 'logical';
  /** 0 lossless, 1 f16, 2 i8 (informational). */
  lossy: number;
  dim: number; metric: MetricName; M: number; efConstruction: number; relinkRatio: number; seed: bigint;
  /** Sequence of the first record. */
  firstSequence: bigint;
  /** Library version of the writer (major*10000 + minor*100 + patch). */
  producerVersion: number;
  /** 32 hex digits (all zero: unknown). */
  dbId: string;
}
export interface StreamOptions { mode?: 'structural' | 'logical'; lossy?: 0 | 1 | 2; firstSequence?: number | bigint }
export interface ReadStreamResult { info: StreamInfo; deltas: Uint8Array[]; length: number }
/** What Replica.applyStream / ParallelReplica.applyStream report. */
export interface StreamResult {
  /** true when every record was applied or was a duplicate. */
  ok: boolean;
  /** C status name of the first problem ("DV_OK" if none), e.g. "DV_ECONFIG", "DV_ECHECKSUM", "DV_ETRUNCATED". */
  status: string;
  /** Records found (a torn or unreadable one counts as one). */
  deltas: number;
  applied: number;
  duplicates: number;
  /** Highest sequence such that everything up to it is applied. */
  position: bigint;
  /** Index of the refused record, -1 if none. Later records were not tried. */
  failedAt: number;
  failedSequence: bigint | null;
  /** Stream byte offset of the problem (0: the stream header), -1 if none. */
  failedOffset: number;
  /** What went wrong (the reader's or the applier's message). */
  detail: string | null;
  /** Time spent applying, milliseconds. */
  ms: number;
}
/** A DeltavecError of the stream reader: offset = stream byte offset of the problem. */
export interface StreamError extends DeltavecError { offset: number; delta?: Uint8Array; sequence?: bigint }
export declare class StreamReader {
  /** null until the stream header has been read. */
  readonly info: StreamInfo | null;
  readonly offset: number;
  push(chunk: Uint8Array | ArrayBuffer): this;
  /** The next record, or null when more bytes are needed; throws the stream's problems (StreamError) in order. */
  next(): Uint8Array | null;
  [Symbol.iterator](): Iterator<Uint8Array>;
  /** End of input: the stream length, or throws DV_ETRUNCATED / DV_EEMPTY / the reader's error. */
  finish(): number;
  close(): void;
}
export declare class StreamWriter {
  readonly info: StreamInfo;
  /** The stream header bytes: write them first. */
  readonly header: Uint8Array;
  readonly nextSequence: bigint;
  /** One delta's record bytes; throws DeltavecError (DV_EGAP, DV_EDUPLICATE, DV_ECHECKSUM, ...). */
  append(delta: Uint8Array): Uint8Array;
  close(): void;
}
export declare function readStream(bytes: Uint8Array | ArrayBuffer, opts?: { maxPayload?: number; load?: LoadOptions }): Promise<ReadStreamResult>;
export declare function writeStream(source: Db | StreamInfo, deltas: Uint8Array[], opts?: StreamOptions & { load?: LoadOptions }): Promise<Uint8Array>;
export declare function openReplicaFromStream(source: Uint8Array | ArrayBuffer | StreamInfo, opts?: Omit<ReplicaOptions, 'dim'>): Promise<Replica>;
