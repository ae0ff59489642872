// parallel-worker.mjs -- a worker_thread of js/bench/parallel.mjs: one deltavec-mt.wasm instance over the
// shared memory. {cmd:'init', module, memory, stackTop, tls} installs its own stack and TLS (dvw_thread_init,
// before any other call); {cmd:'run', r, index} blocks in worker loop `index` of replica r until the
// dispatcher calls dvw_replica_workers_stop, then replies with the loop's status.
import { parentPort } from 'node:worker_threads';

let x = null;
parentPort.on('message', async (m) => {
  try {
    if (m.cmd === 'init') {
      const inst = await WebAssembly.instantiate(m.module, { env: { memory: m.memory } });
      x = inst.exports;
      x.dvw_thread_init(m.stackTop, m.tls);
      parentPort.postMessage({ ok: true });
    } else if (m.cmd === 'run') {
      parentPort.postMessage({ st: x.dvw_replica_worker_run(m.r, m.index) });
    } else {
      parentPort.postMessage({ error: `unknown command ${m.cmd}` });
    }
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.stack) || e) });
  }
});
