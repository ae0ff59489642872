// grow-race.mjs -- does this engine show a memory.grow by one thread to the other threads' instances at once?
//
// Why it matters: deltavec-mt.wasm runs one instance per worker over one shared WebAssembly.Memory. If thread A
// grows the memory and hands thread B a pointer into the new pages, B must be able to use it. In V8 (Node 20,
// Chromium) B's instance learns the new size only at its next interrupt check; until then its explicitly
// bounds-checked accesses -- atomics and bulk memory (memory.copy/fill, which memcpy/memset lower to) -- trap
// with "memory access out of bounds", while plain loads/stores (guard-page checked) go through. That is the
// trap seen early in development inside dv_apply_worker_run, and why the shared memory now has a fixed size
// and the allocator stops growing once a second instance exists (wasm/libc/libc.c, js/src/pool.js).
//
// The probe: thread A (main) grows the memory one page at a time and publishes each new page's address with an
// atomic store; thread B (a worker) spins on that word and touches each published page with one kind of access.
// A trial ends at the first trap or after `pages` pages. Prints a table and writes
// bench/results/grow_race.json. Usage: node bench/grow-race.mjs [trials=5] [pages=2048]
//
// The module (238 bytes, inlined below as bytes so the probe needs no assembler; wat2wasm --enable-threads):
//   (module (import "env" "memory" (memory 1 65536 shared))
//     (func (export "grow") (result i32) (local $old i32)
//       (local.set $old (memory.grow (i32.const 1)))
//       (if (i32.ne (local.get $old) (i32.const -1))
//         (then (i32.atomic.store (i32.const 0) (i32.shl (local.get $old) (i32.const 16)))))
//       (local.get $old))
//     (func $wait_new (param $last i32) (result i32) (local $p i32)
//       (loop $spin (local.set $p (i32.atomic.load (i32.const 0)))
//         (br_if $spin (i32.eq (local.get $p) (local.get $last))))
//       (local.get $p))
//     (func (export "touch_atomic") (param $last i32) (result i32) (local $p i32)
//       (local.set $p (call $wait_new (local.get $last)))
//       (drop (i32.atomic.rmw.add (i32.add (local.get $p) (i32.const 64)) (i32.const 1))) (local.get $p))
//     (func (export "touch_bulk") (param $last i32) (result i32) (local $p i32)
//       (local.set $p (call $wait_new (local.get $last)))
//       (memory.fill (i32.add (local.get $p) (i32.const 64)) (i32.const 7) (i32.const 256)) (local.get $p))
//     (func (export "touch_plain") (param $last i32) (result i32) (local $p i32)
//       (local.set $p (call $wait_new (local.get $last)))
//       (i32.store (i32.add (local.get $p) (i32.const 64)) (i32.const 5)) (local.get $p)))
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BYTES = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 10, 2, 96, 0, 1, 127, 96, 1, 127, 1, 127, 2, 18, 1, 3,
  101, 110, 118, 6, 109, 101, 109, 111, 114, 121, 2, 3, 1, 128, 128, 4, 3, 6, 5, 0, 1, 1, 1, 1,
  7, 50, 4, 4, 103, 114, 111, 119, 0, 0, 12, 116, 111, 117, 99, 104, 95, 97, 116, 111, 109, 105, 99, 0,
  2, 10, 116, 111, 117, 99, 104, 95, 98, 117, 108, 107, 0, 3, 11, 116, 111, 117, 99, 104, 95, 112, 108, 97,
  105, 110, 0, 4, 10, 135, 1, 5, 31, 1, 1, 127, 65, 1, 64, 0, 33, 0, 32, 0, 65, 127, 71, 4,
  64, 65, 0, 32, 0, 65, 16, 116, 254, 23, 2, 0, 11, 32, 0, 11, 24, 1, 1, 127, 3, 64, 65, 0,
  254, 16, 2, 0, 33, 1, 32, 1, 32, 0, 70, 13, 0, 11, 32, 1, 11, 25, 1, 1, 127, 32, 0, 16,
  1, 33, 1, 32, 1, 65, 192, 0, 106, 65, 1, 254, 30, 2, 0, 26, 32, 1, 11, 26, 1, 1, 127, 32,
  0, 16, 1, 33, 1, 32, 1, 65, 192, 0, 106, 65, 7, 65, 128, 2, 252, 11, 0, 32, 1, 11, 23, 1,
  1, 127, 32, 0, 16, 1, 33, 1, 32, 1, 65, 192, 0, 106, 65, 5, 54, 2, 0, 32, 1, 11,
]);
const KINDS = ['atomic', 'bulk', 'plain'];

if (!isMainThread) {
  // Worker: touch every published page until the last one (or the first trap).
  const { module, memory, kind, last: lastPage } = workerData;
  const { exports: x } = await WebAssembly.instantiate(module, { env: { memory } });
  const touch = x[`touch_${kind}`];
  let p = 0, n = 0;
  parentPort.postMessage('ready');
  try {
    while ((p >>> 16) < lastPage) { p = touch(p); n++; }
    parentPort.postMessage({ trapped: false, touched: n });
  } catch (e) {
    parentPort.postMessage({ trapped: true, touched: n, message: e.message });
  }
} else {
  const trials = +(process.argv[2] || 5), pages = +(process.argv[3] || 2048);
  const module = await WebAssembly.compile(BYTES);
  const runTrial = async (kind) => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: pages + 1, shared: true });
    const { exports: x } = await WebAssembly.instantiate(module, { env: { memory } });
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { module, memory, kind, last: pages } });
    const msgs = [];
    let wake = null;
    w.on('message', (m) => { msgs.push(m); if (wake) wake(); });
    const failed = new Promise((_, reject) => w.once('error', reject));
    const next = async () => { while (!msgs.length) await Promise.race([new Promise((r) => { wake = r; }), failed]); return msgs.shift(); };
    await next(); // 'ready': the worker's instance exists and spins on the published word
    for (let i = 0; i < pages; i++) x.grow(); // as fast as it goes: the race the core would run into
    const m = await next();
    await w.terminate();
    return m;
  };
  const res = { engine: `node ${process.versions.node}, V8 ${process.versions.v8}`, trials, pages, kinds: {} };
  for (const kind of KINDS) {
    const runs = [];
    for (let t = 0; t < trials; t++) runs.push(await runTrial(kind));
    res.kinds[kind] = { trapped: runs.filter((r) => r.trapped).length, trials,
      pagesTouchedBeforeTrap: runs.filter((r) => r.trapped).map((r) => r.touched),
      message: (runs.find((r) => r.trapped) || {}).message || null };
  }
  console.log(`grow race (${res.engine}): thread A grows a shared memory page by page, thread B touches each new page`);
  console.log('access        trials trapped  pages touched before the trap');
  for (const kind of KINDS) {
    const k = res.kinds[kind];
    console.log(`${kind.padEnd(13)} ${String(trials).padStart(6)} ${String(k.trapped).padStart(7)}  ${k.pagesTouchedBeforeTrap.join(' ') || '-'}`);
  }
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'grow_race.json'), JSON.stringify(res, null, 1) + '\n');
}
