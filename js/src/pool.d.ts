export interface SelfTestResult { ok: boolean; l2Ok?: boolean; dbOk?: boolean; rows: number; dim: number; threads: number; perWorker: number[]; workersJoined: number; ms?: number; fallback?: boolean; reason?: string }
export interface Pool { readonly shared: boolean; readonly threads: number; readonly reason: string | null; selfTest(opts?: { rows?: number; dim?: number; chunk?: number; seed?: number }): Promise<SelfTestResult>; close(): void }
/** opts.memoryBytes: fixed size of the shared memory (default 256 MiB). */
export declare function createPool(opts?: { workers?: number; url?: string | URL; quiet?: boolean; memoryBytes?: number }): Promise<Pool>;
export declare const DEFAULT_MEMORY_BYTES: number;
/** 64 KiB pages for a fixed-size shared memory of `bytes`; RangeError outside 4 MiB .. the module's maximum. */
export declare function memoryPages(bytes: number | undefined, maxPagesOfModule: number): number;
/** Shared setup of createPool and openParallelReplica: compiled module, shared memory, instance 0 on this thread, n initialised workers. */
export declare function startThreads(n: number, opts?: { url?: string | URL; memoryBytes?: number }): Promise<{ rt: unknown; module: WebAssembly.Module; memory: WebAssembly.Memory; ports: unknown[]; stacks: number[] }>;
