// parallel.mjs -- parallel apply throughput with 1, 2 and 4 workers in Node (deltavec-mt.wasm + worker_threads).
//
// Needs two things that live outside js/bench: the C parallel apply (dv_apply_worker_run, section 8 of
// include/deltavec.h, issue 4) and an mt-module export that lets a worker instance run a worker loop of a
// replica (e.g. dvw_replica_worker_run in wasm/exports-mt.list) plus a pool API over it. Until both exist this
// reports "not available" and says which part is missing, instead of timing something else under that name.
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { distDir, repoRoot } from './common.mjs';

export async function benchParallel() {
  let header = '';
  try { header = execFileSync('git', ['show', 'HEAD:include/deltavec.h'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] }).toString(); } catch { /* not a git checkout */ }
  if (!header) header = readFileSync(path.join(repoRoot, 'include/deltavec.h'), 'utf8');
  const inC = /dv_apply_worker_run\s*\(/.test(header);
  const mtFile = path.join(distDir, 'deltavec-mt.wasm');
  let mtExports = [];
  if (existsSync(mtFile)) mtExports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(mtFile))).map((e) => e.name);
  const workerExport = mtExports.find((n) => /^dvw_replica_.*worker/.test(n));
  const missing = [];
  if (!inC) missing.push('committed include/deltavec.h has no dv_apply_worker_run (C parallel apply not landed)');
  if (!workerExport) missing.push('deltavec-mt.wasm exports no dvw_replica_*worker* function (no wasm ABI to run a worker loop)');
  if (missing.length) {
    const reason = missing.join('; ');
    console.log(`\nParallel apply (1/2/4 workers): not available: ${reason}`);
    return { ran: false, reason, checked: { header_has_dv_apply_worker_run: inC, mt_worker_export: workerExport || null } };
  }
  const reason = `C API and mt export (${workerExport}) exist, but this benchmark has no driver for them yet`;
  console.log(`\nParallel apply (1/2/4 workers): not measured: ${reason}`);
  return { ran: false, reason, checked: { header_has_dv_apply_worker_run: inC, mt_worker_export: workerExport } };
}
