/*
 * worker.js -- one deltavec-mt.wasm instance per worker, over the pool's
 * shared memory (see pool.js). Runs in Node worker_threads and in browser
 * Web Workers. Messages: {cmd:'init', module, memory, stackTop, tls} first,
 * then jobs ({cmd:'l2', job}, {cmd:'db', ...}) or the parallel replica
 * commands of parallel.js ({cmd:'par-*'}, see mtjobs.js); each gets exactly
 * one reply. 'par-run' replies only when the worker loop returns.
 * 'feed-drain' gets no reply (its results are in the feed's shared words);
 * if it throws, the worker posts {feedError} unasked.
 */
import { buildDb, parCommand } from './mtjobs.js';
import { isNode } from './host.js';

let x = null;
let memory = null;

async function handle(m) {
  if (m.cmd === 'init') {
    const inst = await WebAssembly.instantiate(m.module, { env: { memory: m.memory } });
    x = inst.exports;
    memory = m.memory;
    x.dvw_thread_init(m.stackTop, m.tls); // own stack + TLS before any other call
    return { ok: true, backend: 'mt' };
  }
  if (!x) throw new Error('worker not initialised');
  if (m.cmd === 'l2') return { rows: x.dvw_l2_job_run(m.job) };
  if (m.cmd === 'db') return { hash: buildDb(x, m.memory, m) };
  if (m.cmd.startsWith('par-') || m.cmd === 'feed-drain') return parCommand(x, memory, m);
  throw new Error(`unknown command ${m.cmd}`);
}

function reply(post, m) {
  if (m.cmd === 'feed-drain') {
    handle(m).catch((e) => post({ feedError: String(e && e.stack || e) }));
    return;
  }
  handle(m).then(post, (e) => post({ error: String(e && e.stack || e) }));
}

if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  parentPort.on('message', (m) => reply((r) => parentPort.postMessage(r), m));
} else {
  self.onmessage = (e) => reply((r) => self.postMessage(r), e.data);
}
