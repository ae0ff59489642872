/*
 * host.js -- what the package needs to know about the JavaScript host, in one
 * place: index.js, pool.js and worker.js import it (Node's worker_threads and
 * file URLs versus the browser's Web Workers and fetch).
 */

/** True under Node.js (worker_threads, file: URLs read from disk); false in browsers and Web Workers. */
export const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);
