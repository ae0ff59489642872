#!/usr/bin/env python3
"""issue15.py -- issue 15's performance table in one command.

Runs the benchmarks of bench/ (and the wasm benchmark in Node) with the sizes each row of issue 15 needs,
reads the JSON files they write (into bench/results/issue15/, so the other sections' result files stay as
they are), and prints one table

    measure | today's figure | reference in the same run | ratio | goal | met?

with exactly the issue's rows, then writes it (with the machine, the commands and every step's exit
status) to bench/results/issue15.json (--quick: issue15-quick.json, git-ignored). Nothing here measures anything
itself: every figure comes from a bench's JSON or output of this run; a figure that is not there is
printed as "not measured" with the reason, never guessed.

    python3 bench/issue15.py                # full: synth 100k x 128, Fashion-MNIST 60k x 784, digits; long
    python3 bench/issue15.py --quick        # smoke: small sizes, a minute or two
    python3 bench/issue15.py --report-only  # no run: the table from the JSON files already in <out>

Options: --build DIR (CMake build folder with DV_BUILD_BENCH=ON, default build; configured and its bench
targets built unless --no-build; the wasm modules and js/node_modules are made when missing), --out DIR
(the benches' JSON, default bench/results/issue15, --quick: issue15-quick), --json FILE (the table, default
bench/results/issue15.json), --data DIR (data cache, default bench/data), --only/--skip STEP,... (steps below),
--check (exit 1 if a step failed or a row is not measured for any reason other than a skipped step or an
absent optional data set: the smoke test's condition).

Where each row's figures come from is the ROWS table below (file and keys); when a bench's JSON changes,
that table is the one place to adjust.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_IDX = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


# Benches whose JSON name does not change with --quick (the quick run has its own folder).
UNSUFFIXED = {"kernels"}


class Missing(Exception):
    """A figure that is not in this run's output; the message says why."""


# ---- the steps: which bench runs with which sizes ------------------------------------------------------

# Shortest first: a run cut short still has most rows (--report-only prints them from what was written).
ORDER = ["kernels", "encoding", "hnsw_digits", "demo", "ring", "capture_apply", "apply_parallel",
         "apply_parallel_deletes", "apply_parallel_drift", "hnsw_synth", "hnsw_fashion", "wasm", "delete_fashion", "delete_synth"]


def steps(mode, build, out, data_dir):
    """Each step: name, command, optional stdout file (in out), env, a file it needs, whether it is the wasm one."""
    q = mode == "quick"
    sfx = "-quick" if q else ""
    b = lambda exe: os.path.join(build, "bench", exe)
    data = ["--data", data_dir]
    hnsw_size = ["--quick", "--rounds", "1", "--n", "2000", "--queries", "100"] if q else ["--rounds", "3"]
    plan = [
        # SIMD dispatch: the kernel sets, the one dispatch picks, ns per call beside hnswlib's own kernels.
        dict(name="kernels", cmd=[b("bench_kernels"), "--out", out] + (["--reps", "3"] if q else []) + ["128", "784"]),
        # HNSW build, QPS at equal recall, memory: one data set per run, so one failure costs one set.
        dict(name="hnsw_synth", cmd=[b("bench_hnsw"), "--dataset", "synth", "--out", out] + data + hnsw_size),
        dict(name="hnsw_fashion", cmd=[b("bench_hnsw"), "--dataset", "fashion", "--out", out] + data + hnsw_size,
             needs_file=FASHION_IDX),
        dict(name="hnsw_digits", cmd=[b("bench_hnsw"), "--dataset", "digits", "--out", out] + data
             + (["--quick", "--rounds", "1"] if q else ["--rounds", "3"])),
        # Delete: synthetic sizes for "flat from 20k to 500k", Fashion-MNIST for the 784-dim real row.
        dict(name="delete_synth", cmd=[b("bench_delete"), "--dataset", "synth", "--dim", "128"]
             + (["--sizes", "2000,4000", "--deletes", "200", "--recall-n", "0"] if q else
                ["--sizes", "20000,60000,200000,500000", "--deletes", "2000", "--recall-n", "20000",
                 "--queries", "500"])
             + ["--out", os.path.join(out, "delete%s.json" % sfx)]),
        dict(name="delete_fashion", cmd=[b("bench_delete"), "--dataset", "fashion"] + data
             + (["--sizes", "2000", "--deletes", "200", "--recall-n", "0"] if q else
                ["--sizes", "20000,60000", "--deletes", "2000", "--recall-n", "10000", "--queries", "200"])
             + ["--out", os.path.join(out, "delete_fashion%s.json" % sfx)], needs_file=FASHION_IDX),
        # The demo's replica apply latency per delta kind (its DELETE is the demo row).
        dict(name="demo", cmd=[os.path.join(build, "cli", "deltavec"), "demo"]
             + (["--n", "2000", "--dim", "128", "--updates", "1000", "--queries", "20"] if q else
                ["--n", "20000", "--dim", "128", "--updates", "10000", "--queries", "200"])
             + ["--json", os.path.join(out, "demo%s.json" % sfx)]),
        # Capture rate and apply latency at dim 384; encoded sizes; parallel apply; ring.
        dict(name="capture_apply", cmd=[b("bench_capture_apply"), "--dims", "384", "--out", out]
             + (["--quick"] if q else [])),
        dict(name="encoding", cmd=[b("bench_encoding"), "--out", out] + (["--quick"] if q else [])),
        dict(name="apply_parallel", cmd=[b("bench_apply_parallel")]
             + (["--inserts", "3000", "--updates", "1000", "--rounds", "1"] if q else [])
             + ["--out", os.path.join(out, "apply_parallel%s.json" % sfx)]),
        dict(name="apply_parallel_deletes", cmd=[b("bench_apply_parallel"), "--deletes", "10"]
             + (["--inserts", "2000", "--updates", "1000", "--rounds", "1"] if q else
                ["--inserts", "30000", "--updates", "30000"])
             + ["--out", os.path.join(out, "apply_parallel_deletes%s.json" % sfx)]),
        # Independent vectors: updates of values only (drift keeps every edge), timed after the inserts.
        dict(name="apply_parallel_drift", cmd=[b("bench_apply_parallel"), "--drift"]
             + (["--inserts", "2000", "--updates", "6000", "--rounds", "1"] if q else
                ["--inserts", "20000", "--updates", "200000", "--rounds", "5"])
             + ["--out", os.path.join(out, "apply_parallel_drift%s.json" % sfx)]),
        dict(name="ring", cmd=[b("bench_ring"), os.path.join(out, "ring%s.json" % sfx)] + (["--quick"] if q else [])),
        # wasm against hnswlib-wasm in Node; it writes into the repository's bench/results.
        dict(name="wasm", cmd=["node", os.path.join(ROOT, "js", "bench", "wasm.mjs"),
                               "--only=synth100k,fashion,memory,apply"]
             + (["--quick"] if q else []),
             env={"DV_BENCH_KERNELS": b("bench_kernels")}, wasm=True),
    ]
    return sorted(plan, key=lambda s: ORDER.index(s["name"]))


CMAKE_TARGETS = ["bench_kernels", "bench_hnsw", "bench_delete", "bench_capture_apply", "bench_encoding",
                 "bench_apply_parallel", "bench_ring", "deltavec"]


def prepare_native(build):
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        run_logged(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DDV_BUILD_BENCH=ON"])
    run_logged(["cmake", "--build", build, "-j2", "--target"] + CMAKE_TARGETS)


def prepare_wasm():
    """The wasm modules and hnswlib-wasm; returns None when ready, else why not."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists(os.path.join(ROOT, "js", "dist", "deltavec.wasm")) or \
            not os.path.exists(os.path.join(ROOT, "build-wasm", "dvw_vectors")):
        if run_logged([os.path.join(ROOT, "scripts", "build-wasm.sh")]) != 0:
            return "scripts/build-wasm.sh failed"
    if not os.path.isdir(os.path.join(ROOT, "js", "node_modules", "hnswlib-wasm")):
        if run_logged(["npm", "ci", "--no-audit", "--no-fund"], cwd=os.path.join(ROOT, "js")) != 0:
            return "npm ci in js/ failed (hnswlib-wasm is a dev dependency)"
    return None


def run_logged(cmd, cwd=ROOT, env=None, stdout_path=None):
    """Runs cmd, its output shown (and kept in stdout_path); its exit status, 127 if it cannot start."""
    print("$ " + " ".join(cmd), flush=True)
    full_env = dict(os.environ, **(env or {}))
    try:
        if not stdout_path:
            return subprocess.run(cmd, cwd=cwd, env=full_env).returncode
        p = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, text=True)
    except OSError as e:
        print("%s: %s" % (cmd[0], e), file=sys.stderr)
        return 127
    with open(stdout_path, "w") as f:
        f.write(p.stdout)
    sys.stdout.write(p.stdout)
    return p.returncode


def run_wasm(step, out, sfx):
    """js/bench/wasm.mjs always writes bench/results/wasm_bench[-quick].json: its run is moved to out and the
    file there before is put back, so this driver leaves the wasm section's results as they were."""
    fixed = os.path.join(ROOT, "bench", "results", "wasm_bench%s.json" % sfx)
    before = None
    if os.path.exists(fixed):
        with open(fixed, "rb") as f:
            before = f.read()
    rc = run_logged(step["cmd"], env=step.get("env"))
    if os.path.exists(fixed):
        shutil.copyfile(fixed, os.path.join(out, "wasm_bench%s.json" % sfx))
        if before is None:
            os.remove(fixed)
    if before is not None:
        with open(fixed, "wb") as f:
            f.write(before)
    return rc


# ---- reading the JSON files defensively ------------------------------------------------------------------

class Run:
    """The outputs of this run: JSON files by name, step status, the parsed kernel table."""

    def __init__(self, out, sfx, status):
        self.out, self.sfx, self.status = out, sfx, status

    def json(self, name, step):
        st = self.status.get(step)
        if st and st["state"] != "ran":
            raise Missing("%s: %s" % (step, st["why"]))
        path = os.path.join(self.out, name + ("" if name in UNSUFFIXED else self.sfx) + ".json")
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            raise Missing("%s not written (step %s)" % (os.path.relpath(path, ROOT), step))
        except ValueError as e:
            raise Missing("%s is not valid JSON: %s" % (os.path.relpath(path, ROOT), e))


def get(obj, *path):
    """obj[path[0]][path[1]]..., or Missing naming the first key that is not there."""
    cur = obj
    for i, k in enumerate(path):
        try:
            cur = cur[k]
        except (KeyError, IndexError, TypeError):
            raise Missing("no key %s" % ".".join(str(p) for p in path[:i + 1]))
    if cur is None:
        raise Missing("%s is null (not reached in this run)" % ".".join(str(p) for p in path))
    return cur


def first(obj, *paths):
    """The first of several key paths that exists (bench JSONs are being reworked in parallel)."""
    reasons = []
    for p in paths:
        try:
            return get(obj, *p)
        except Missing as e:
            reasons.append(str(e))
    raise Missing("; ".join(reasons))


def num(x, nd=2):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return ("{:.%df}" % nd).format(x)


def row(figure, reference, ratio, met, note=""):
    return dict(figure=figure, reference=reference, ratio=ratio, met=met, note=note)


# ---- the rows: issue 15's table, each with where its figures come from -----------------------------------

def r_delete_real(run):
    fa = run.json("delete_fashion", "delete_fashion")
    lat = [x for x in get(fa, "latency")]
    at = max(lat, key=lambda x: x["n"])  # 60k in the full run
    ours, ref = get(at, "delete_median_us"), get(at, "hnswlib_mark_delete_median_us")
    syn = run.json("delete", "delete_synth")
    meds = [(get(x, "n"), get(x, "delete_median_us")) for x in get(syn, "latency")]
    spread = max(m for _, m in meds) / max(1e-9, min(m for _, m in meds))
    flat_ok = max(m for _, m in meds) <= 20 and spread <= 2.0
    rep = get(at, "repair_us_per_delete")
    fig = "%s us median at %dk x %d (Fashion-MNIST); synth %s: %s us; repair afterwards %s us per delete" % (
        num(ours), at["n"] // 1000, get(fa, "dim"), "/".join("%dk" % (n // 1000) for n, _ in meds),
        "/".join(num(m) for _, m in meds), num(rep, 0))
    note = "delete = tombstone; graph repair deferred to dv_db_repair (bounded steps), timed apart"
    rec = fa.get("recall", {}).get("runs") or []
    if rec:
        note += "; recall@10 repaired vs fresh build (Fashion, %d): %s" % (fa["recall"]["n"], ", ".join(
            "%d%% deleted %+.4f" % (r["deleted_fraction"] * 100, r["recall_repaired"] - r["recall_fresh_build"])
            for r in rec))
    return row(fig, "hnswlib markDelete %s us" % num(ref), "%.2fx" % (ours / ref),
               ours <= 20 and flat_ok, note + "; flat = max median <= 20 us and max/min <= 2 (%.2f)" % spread)


def r_demo_delete(run):
    d = run.json("demo", "demo")
    lat = get(d, "latency_us")
    keys = [k for k in lat if k.startswith("delete")]
    if not keys:
        raise Missing("no delete kind in demo latency_us (%s)" % ", ".join(lat))
    med = get(lat, keys[0], "median")
    return row("%s us median (%s, %d x %d)" % (num(med), keys[0], get(d, "n"), get(d, "dim")),
               "none (absolute goal)", "-", med <= 2, "replicas converged: %s" % d.get("converged"))


HNSW_SETS = [("synth", "synth"), ("fashion", "fashion"), ("digits", "digits")]


def hnsw_sets(run):
    got, why = [], []
    for name, step in HNSW_SETS:
        try:
            got.append((name, run.json("hnsw_" + name, "hnsw_" + step)))
        except Missing as e:
            why.append("%s: %s" % (name, e))
    if not got:
        raise Missing("; ".join(why))
    return got, why


def set_label(name, h):
    return "%s %s x %s" % (name, "{:,}".format(h.get("n", 0)), h.get("dim", "?"))


def r_build_rate(run):
    sets, why = hnsw_sets(run)
    parts, refs, ratios = [], [], []
    for name, h in sets:
        ours, ref = get(h, "deltavec", "inserts_per_cpu_s"), get(h, "hnswlib", "inserts_per_cpu_s")
        parts.append("%s: %s/s" % (set_label(name, h), num(ours)))
        refs.append("%s/s" % num(ref))
        ratios.append(ours / ref)
    return row("; ".join(parts), "hnswlib " + "; ".join(refs), " / ".join("%.2fx" % r for r in ratios),
               min(ratios) >= 1.3, "inserts per thread-CPU second, build interleaved in chunks" +
               ("; not measured: " + "; ".join(why) if why else ""))


def r_qps(run):
    sets, why = hnsw_sets(run)
    parts, refs, ratios, unreached = [], [], [], []
    for name, h in sets:
        cells, rcells = [], []
        for t in ("0.90", "0.95", "0.99"):
            hq = h.get("hnswlib", {}).get("qps_at_recall", {}).get(t)
            oq = h.get("deltavec", {}).get("qps_at_recall", {}).get(t)
            if hq is None and oq is None:
                cells.append("-"), rcells.append("-")
                unreached.append("%s@%s: neither reaches it" % (name, t))
                continue
            if oq is None:
                cells.append("not reached"), rcells.append(num(hq))
                ratios.append(0.0)
                continue
            if hq is None:
                cells.append(num(oq)), rcells.append("not reached")
                continue
            cells.append(num(oq)), rcells.append(num(hq))
            ratios.append(oq / hq)
        parts.append("%s: %s" % (name, " / ".join(cells)))
        refs.append("%s: %s" % (name, " / ".join(rcells)))
    if not ratios:
        raise Missing("no recall target reached by both sides")
    return row("; ".join(parts), "hnswlib " + "; ".join(refs),
               "min %.2fx, max %.2fx" % (min(ratios), max(ratios)), min(ratios) >= 1.3,
               "QPS per thread-CPU second, interpolated at recall@10 0.90/0.95/0.99" +
               ("; " + "; ".join(unreached) if unreached else "") +
               ("; not measured: " + "; ".join(why) if why else ""))


def r_memory(run):
    sets, why = hnsw_sets(run)
    parts, refs, ratios = [], [], []
    for name, h in sets:
        ours, ref = get(h, "deltavec", "mem_per_vector"), get(h, "hnswlib", "mem_per_vector")
        parts.append("%s: %s B" % (name, num(ours, 0)))
        refs.append("%s B" % num(ref, 0))
        ratios.append(ours / ref)
    return row("; ".join(parts), "hnswlib " + "; ".join(refs), " / ".join("%.2fx" % r for r in ratios),
               max(ratios) <= 1.0, "heap growth (mallinfo2 + deltavec's own big-block mappings) during the build / n, same method both sides" +
               ("; not measured: " + "; ".join(why) if why else ""))


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def r_simd(run):
    k = run.json("kernels", "kernels")
    sets, picked = get(k, "sets"), get(k, "dispatch")
    has512 = "avx512f" in cpu_flags()
    kept = all(any(s.startswith(x) for s in sets) for x in ("scalar", "sse", "avx2"))
    wide = any("avx512" in s for s in sets)
    r784 = get(k, "ratios", "784")
    hn = get(k, "ns", "784", "hnswlib", "l2sq")
    ours = get(k, "ns", "784", picked, "l2sq")
    gain = r784.get("avx2_over_avx512", {})
    met = (wide and "avx512" in picked and kept) if has512 else kept
    return row("sets %s; dispatch picks %s; l2sq at 784: %.1f ns" % (" ".join(sets), picked, ours),
               "hnswlib (%s code) l2sq at 784: %.1f ns; CPU avx512f: %s" % (
                   get(k, "hnswlib", "isa"), hn, "yes" if has512 else "no"),
               "hnswlib/ours %.2fx" % get(r784, "hnswlib_over_dispatch_l2sq"), met,
               "%s; avx2/avx512 at 784: %s" % (k.get("method", "?"), ", ".join(
                   "%s %.2fx" % (op, v) for op, v in gain.items() if op in ("l2sq", "dot", "diff_1pct", "diff_50pct"))
                   or "-"))


def dim_entry(ca, dim):
    for d in get(ca, "dims"):
        if d.get("dim") == dim:
            return d
    raise Missing("capture_apply has no dim %d" % dim)


def r_capture(run):
    d = dim_entry(run.json("capture_apply", "capture_apply"), 384)
    try:  # rounds of 1,000 writes with and without capture, thread CPU time (section 1b of docs/BENCH.md)
        t = get(d, "capture_throughput", "sparse_5pct")
        rate, plain = get(t, "deltas_per_s"), get(t, "plain_us_per_write")
        how = "capture cost per write = median over rounds of (captured - plain) / writes, thread CPU"
    except Missing:  # the per-write medians of section 1
        c = get(d, "capture", "sparse_5pct")
        rate, plain = get(c, "capture_only_per_s"), get(c, "plain", "median_us")
        how = "1 / (median paired overhead + median drain), wall clock per write"
    return row("%s deltas/s" % num(rate), "the same sparse write without capture: %s writes/s" % num(1e6 / plain),
               "-", rate >= 1e6, "one thread, dim 384, 5%% of the dims; %s" % how)


def r_encoding(run):
    e = get(run.json("encoding", "encoding"), "encoding")
    ld = e.get("lossless_dense_drift")
    if isinstance(ld, dict) and "xor_ratio" in ld:
        xr = get(ld, "xor_ratio")
        return row("%.2f:1 (%s B per delta, %s)" % (xr, num(get(ld, "xor_bytes"), 0), ld.get("xor_config")),
                   "%s: %.2f:1 (%s B)" % (ld.get("earlier_best"), get(ld, "earlier_best_ratio"),
                                          num(get(ld, "earlier_best_bytes"), 0)),
                   "%.2fx smaller" % (get(ld, "earlier_best_bytes") / get(ld, "xor_bytes")), xr >= 1.61,
                   "dense drift, dim %s, vs the naive 64 + 4 x dim bytes; bound for any lossless coder on this "
                   "drift: %.2f:1" % (e.get("dim"), ld.get("information_bound_ratio", float("nan"))))
    cfgs = get(e, "configs")
    lossless = [c for c in cfgs if c.get("lossy") == 0 and "dense_drift" in c]
    if not lossless:
        raise Missing("encoding.json has no lossless config with a dense_drift entry")
    best = max(lossless, key=lambda c: c["dense_drift"]["ratio_vs_naive"])
    default = [c for c in lossless if "default" in c.get("name", "")]
    plain = [c for c in lossless if not c.get("compress") and not c.get("before_images")]
    br = get(best, "dense_drift", "ratio_vs_naive")
    fig = "best lossless: %.2f:1 (%s)" % (br, best.get("name"))
    if default:
        fig += "; default config: %.2f:1" % get(default[0], "dense_drift", "ratio_vs_naive")
    ref = "f32 uncompressed: %.2f:1" % get(plain[0], "dense_drift", "ratio_vs_naive") if plain else "-"
    return row(fig, ref, "%.2f:1" % br, br >= 1.61,
               "dense drift updates, dim %s, bytes incl. header vs the naive 64 + 4 x dim" % e.get("dim"))


APPLY_KINDS = [("insert", "insert"), ("dense_drift", "dense drift"), ("dense_relink", "dense re-link"),
               ("sparse_5pct", "sparse 5%"), ("delete", "delete"), ("edge_add", "edge add"),
               ("edge_remove", "edge remove"), ("batch100_insert", "batch of 100 inserts"),
               ("batch100_update", "batch of 100 updates")]


def r_apply(run):
    a = get(dim_entry(run.json("capture_apply", "capture_apply"), 384), "apply")
    under, missing = [], []
    for key, label in APPLY_KINDS:
        try:
            t, med = get(a, key, "target_us"), get(a, key, "structural", "median_us")
            if t > 0:
                under.append((t / med, label, med, t))
        except Missing:
            missing.append(label)
    if not under:
        raise Missing("capture_apply.json has none of the apply kinds")
    under.sort()
    worst = under[0][0]
    fig = "; ".join("%s %s us (%.1fx)" % (l, num(m), r) for r, l, m, _ in under[:4])
    return row("laggards: " + fig, "seed's table: " + ", ".join("%s < %g us" % (l, t) for _, l, _, t in under[:4]),
               "min %.1fx under" % worst, worst >= 10,
               "structural replica, median per delta, dim 384; all %d kinds: %s" % (
                   len(under), ", ".join("%s %.1fx" % (l, r) for r, l, _, _ in sorted(under, key=lambda x: x[1]))) +
               ("; not measured: " + ", ".join(missing) if missing else ""))


def speedup(results, workers):
    for r in results:
        if r.get("workers") == workers:
            return get(r, "speedup_vs_inline"), get(r, "deltas_per_s")
    raise Missing("no workers = %d result" % workers)


def r_parallel(run):
    """Independent vectors (the goal's case): the drift run, with the loops that use every core
    (workers = cores - 1: the dispatcher applies a share too). The insert stream and the deletes
    run go in the note: there the graph's edges serialize on the dispatcher."""
    dr = run.json("apply_parallel_drift", "apply_parallel_drift")
    cores = int(dr.get("cores") or 2)
    fit = max(1, cores - 1)
    sf, ratef = speedup(get(dr, "results"), fit)
    s2, _ = speedup(get(dr, "results"), 2)
    _, rate0 = speedup(get(dr, "results"), 0)
    note = ("independent vectors: %s updates of values only (dense and sparse drift, edges kept), dim %s, "
            "timed after %s inserts, best of %s; %d worker%s = %d threads on %d cores (the dispatcher applies "
            "a share); 2 workers (3 threads): %.2fx") % (
        dr.get("updates"), dr.get("dim"), dr.get("inserts"), dr.get("rounds"), fit, "" if fit == 1 else "s",
        fit + 1, cores, s2)
    try:
        p = run.json("apply_parallel", "apply_parallel")
        m1, _ = speedup(get(p, "results"), fit)
        m2, _ = speedup(get(p, "results"), 2)
        note += ("; where dependencies serialize: %s inserts then %s updates: %.2fx / %.2fx with %d / 2 workers "
                 "(each edge's end checks stay on the dispatcher, in stream order)") % (
            p.get("inserts"), p.get("updates"), m1, m2, fit)
    except (Missing, IndexError) as e:
        note += "; insert stream not measured: %s" % e
    try:
        pd = run.json("apply_parallel_deletes", "apply_parallel_deletes")
        sd, _ = speedup(get(pd, "results"), 2)
        w2 = [r for r in pd["results"] if r.get("workers") == 2][0]
        note += "; with %s%% deletes: %.2fx with 2 workers (%s barriers: a delete is applied inline after a drain)" % (
            pd.get("delete_pct"), sd, w2.get("barriers"))
    except (Missing, IndexError) as e:
        note += "; deletes run not measured: %s" % e
    return row("%.2fx (%s updates/s with %d worker%s + the dispatcher)" % (sf, num(ratef), fit, "" if fit == 1 else "s"),
               "inline apply: %s updates/s" % num(rate0), "%.2fx" % sf, sf >= 1.7, note)


def r_ring(run):
    r = run.json("ring", "ring")
    one = [x for x in r.get("single_thread_in_cache", []) if x.get("mode") == "spsc"]
    if one:  # one thread, in cache, thread CPU: the ring's own work beside memcpy of the same bytes
        tr = [get(x, "transport_ratio_vs_memcpy") for x in one]
        rd = [get(x, "ratio_vs_memcpy") for x in one]
        sizes = "/".join(str(x.get("payload_bytes")) for x in one)
        return row("%s MB/s at %s B payloads" % ("/".join(num(get(x, "transport_mb_per_s"), 0) for x in one), sizes),
                   "memcpy of the same bytes: %s MB/s" % "/".join(num(get(x, "transport_memcpy_mb_per_s"), 0)
                                                                 for x in one),
                   "/".join("%.3fx" % x for x in tr), min(tr) >= 0.5,
                   "one thread, in cache, thread CPU (%s); with the consumer reading every byte: %s" % (
                       one[0].get("time", "?"), "/".join("%.2fx" % x for x in rd)))
    spsc = [x for x in get(r, "results") if x.get("mode") == "spsc"]
    if not spsc:
        raise Missing("ring.json has no spsc result")
    ratios = [get(x, "ratio_vs_memcpy") for x in spsc]
    sizes = "/".join(str(x.get("payload_bytes")) for x in spsc)
    return row("%s MB/s at %s B payloads" % ("/".join(num(get(x, "mb_per_s"), 0) for x in spsc), sizes),
               "memcpy of the same bytes: %s MB/s" % "/".join(num(get(x, "memcpy_mb_per_s"), 0) for x in spsc),
               "/".join("%.2fx" % x for x in ratios), min(ratios) >= 0.5,
               "one producer, one consumer reading every byte; wall clock, best of %s" % r.get("repetitions"))


def wasm_qps_ratios(w):
    """(label, ratio) of every HNSW set of the wasm bench: its JSON held one set and may hold several."""
    blocks = [w[k] for k in ("hnsw_synth100k", "hnsw_fashion") if isinstance(w.get(k), dict)] \
        or w.get("hnsw_sets") or [get(w, "hnsw")]
    out = []
    for b in blocks:
        r = first(b, ("ratios_deltavec_simd_over_hnswlib_wasm", "qps_at_target_interpolated"),
                  ("ratios_deltavec_simd_over_hnswlib_wasm", "qps_at_target"), ("ratios", "qps_at_target"))
        ds = b.get("dataset", {})
        out.append(("%s x %s" % ("{:,}".format(ds.get("n", 0)), ds.get("dim", "?")), r))
    if not out:
        raise Missing("wasm_bench.json hnsw holds no set")
    return out


def r_wasm(run):
    w = run.json("wasm_bench", "wasm")
    sets = wasm_qps_ratios(w)
    sparse = first(w, ("apply", "simd_over_native", "sparse_update"), ("apply", "simd_over_native", "sparse"))
    wanted = ["100,000 x 128", "9,000 x 784"]
    absent = [s for s in wanted if not any(s in lbl for lbl, _ in sets)]
    met = min(r for _, r in sets) >= 3 and sparse <= 2 and not absent
    return row("QPS@0.95 %s; sparse apply wasm/native %.2fx" % (
        ", ".join("%s: %.2fx" % (l, r) for l, r in sets), sparse),
        "hnswlib-wasm and native apply, same run", " / ".join("%.2fx" % r for _, r in sets), met,
        "sets the issue names that the wasm bench did not run: %s" % ", ".join(absent) if absent else
        "every set the issue names was run")


def r_wasm_memory(run):
    """Vectors inserted one at a time (the issue's case) is the row's figure; with the count given up front
    (dv_db_reserve / openDb({capacity})) it is printed beside it."""
    w = run.json("wasm_bench", "wasm")
    m = get(w, "memory")
    grown, cap = get(m, "deltavec_grown"), m.get("deltavec_capacity") or {}
    mib = lambda b: b / 1048576.0
    ratio = get(grown, "ratio_wasm_over_own")
    return row("%.1f MiB of wasm memory inserting one at a time; %s with the count reserved" % (
        mib(grown["wasm_bytes"]), "%.2fx" % cap["ratio_wasm_over_own"] if cap else "not measured"),
               "the library's own count (dv_db_memory_usage): %.1f MiB" % mib(grown["own_bytes"]),
               "%.2fx" % ratio, ratio <= 1.1,
               "set: %s x %s" % (m.get("dataset", {}).get("n", "?"), m.get("dataset", {}).get("dim", "?")))


ROWS = [
    ("delete with graph repair, 60k x 784 real data", "<= 20 us median, flat from 20k to 500k vectors",
     r_delete_real),
    ("demo delete median, 20k x 128", "<= 2 us", r_demo_delete),
    ("HNSW build rate vs hnswlib (same M, efc, data)", ">= 1.3x", r_build_rate),
    ("QPS at recall@10 0.90 / 0.95 / 0.99 vs hnswlib", ">= 1.3x at each", r_qps),
    ("memory per vector vs hnswlib", "<= 1.0x", r_memory),
    ("SIMD dispatch", "AVX-512 kernels, runtime dispatch, scalar/SSE/AVX2 kept", r_simd),
    ("capture, sparse 5% of 384 dims", ">= 1M/s on one core", r_capture),
    ("lossless dense-drift encoding", ">= 1.61:1", r_encoding),
    ("apply latency vs the seed's table (dim 384)", ">= 10x under every row", r_apply),
    ("parallel apply, 2 cores vs inline", ">= 1.7x on independent vectors", r_parallel),
    ("ring SPSC vs memcpy in cache, same run", ">= 0.5x", r_ring),
    ("wasm: QPS@0.95 vs hnswlib-wasm; sparse apply wasm/native", ">= 3x on every set; <= 2x", r_wasm),
    ("wasm memory, 100k x 128", "<= 1.1x its own count", r_wasm_memory),
]


# ---- machine, table, JSON ----------------------------------------------------------------------------------

def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1).strip() if m else model
    except OSError:
        pass
    simd = sorted(f for f in cpu_flags() if f.startswith(("avx", "sse4", "fma", "amx")))

    def sh(*cmd):
        try:
            return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True).stdout.strip()
        except OSError:
            return ""
    return dict(cpu=model, cpus=os.cpu_count(), simd_flags=simd, loadavg=list(os.getloadavg()),
                commit=sh("git", "rev-parse", "--short", "HEAD"),
                dirty=bool(sh("git", "status", "--porcelain", "--", "src", "include", "bench", "js", "wasm")),
                date_utc=utc_now())


def evaluate(run):
    rows = []
    for measure, goal, fn in ROWS:
        try:
            r = fn(run)
            r["met"] = "yes" if r["met"] else "no"
        except Missing as e:
            r = row("not measured", "-", "-", "not measured", str(e))
        r.update(measure=measure, goal=goal)
        rows.append(r)
    return rows


def print_table(rows):
    print("\n| measure | today's figure | reference in the same run | ratio | goal | met? |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s |" % (r["measure"], r["figure"], r["reference"], r["ratio"],
                                                   r["goal"], r["met"]))
    print("\nNotes:")
    for r in rows:
        if r["note"]:
            print("- %s: %s" % (r["measure"], r["note"]))


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def load_steps(path):
    try:
        with open(path) as f:
            st = json.load(f)
        return st if isinstance(st, dict) else {}
    except (OSError, ValueError):
        return {}


def save_steps(path, status):
    """Keeps the steps that ran (or tried to), not the ones this invocation skipped."""
    with open(path, "w") as f:
        json.dump({k: v for k, v in status.items() if v["state"] != "skipped"}, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=None, help="the benches' JSON (default bench/results/issue15[-quick])")
    ap.add_argument("--json", default=None, help="the table as JSON (default bench/results/issue15.json)")
    ap.add_argument("--data", default=os.path.join(ROOT, "bench", "data"), help="data set cache (TEXMEX files)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    out = os.path.abspath(a.out or os.path.join(ROOT, "bench", "results", "issue15-quick" if a.quick else "issue15"))
    os.makedirs(out, exist_ok=True)
    mode = "quick" if a.quick else "full"
    sfx = "-quick" if a.quick else ""
    only = set(filter(None, a.only.split(",")))
    skip = set(filter(None, a.skip.split(",")))
    plan = steps(mode, build, out, os.path.abspath(a.data))
    unknown = (only | skip) - {s["name"] for s in plan}
    if unknown:
        ap.error("unknown step(s) %s; steps: %s" % (",".join(sorted(unknown)), ",".join(s["name"] for s in plan)))

    # Each step's last run, kept across invocations: `--only wasm` reruns one step and the table still has
    # every row, each from its step's last run (the step's date is in the JSON).
    steps_path = os.path.join(out, "issue15_steps%s.json" % sfx)
    status = load_steps(steps_path)
    t_start = time.time()
    if not a.report_only:
        chosen = [s for s in plan if (not only or s["name"] in only) and s["name"] not in skip]
        for s in plan:
            if s not in chosen and s["name"] not in status:
                status[s["name"]] = dict(state="skipped", why="skipped (--only/--skip) and not run before in "
                                         + os.path.relpath(out, ROOT))
        if not a.no_build and any(not s.get("wasm") for s in chosen):
            prepare_native(build)
        for s in chosen:
            if s.get("needs_file") and not os.path.exists(s["needs_file"]):
                status[s["name"]] = dict(state="absent", why="%s not found (apt-get install dataset-fashion-mnist)"
                                         % s["needs_file"])
                continue
            if s.get("wasm"):
                why = prepare_wasm()
                if why:
                    status[s["name"]] = dict(state="failed", why=why)
                    continue
            t0 = time.time()
            stdout_path = os.path.join(out, s["stdout_file"]) if s.get("stdout_file") else None
            if s.get("wasm"):
                rc = run_wasm(s, out, sfx)
            else:
                rc = run_logged(s["cmd"], env=s.get("env"), stdout_path=stdout_path)
            status[s["name"]] = dict(state="ran" if rc == 0 else "failed", rc=rc, seconds=round(time.time() - t0, 1),
                                     date_utc=utc_now(), commit=machine()["commit"], why="exit status %d" % rc,
                                     cmd=" ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c
                                                  for c in s["cmd"]))
            save_steps(steps_path, status)
        save_steps(steps_path, status)
    rows = evaluate(Run(out, sfx, status))
    print_table(rows)
    report = dict(issue=15, mode=mode, command="python3 bench/issue15.py" + (" --quick" if a.quick else ""),
                  machine=machine(), seconds=round(time.time() - t_start, 1), steps=status, rows=rows,
                  shared_machine_note="2-core VM shared with builds and other benchmarks: ratios within this "
                  "run are the figures, absolute times are not")
    path = os.path.abspath(a.json or os.path.join(ROOT, "bench", "results", "issue15%s.json" % sfx))
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print("\nwrote %s" % (os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path))
    if a.check:
        bad = ["step %s: %s" % (n, s["why"]) for n, s in status.items() if s["state"] == "failed"]
        bad += ["row %r: %s" % (r["measure"], r["note"]) for r in rows if r["met"] == "not measured"
                and not re.search(r"skipped|not found \(apt-get", r["note"])]
        if len(rows) != len(ROWS):
            bad.append("%d rows, expected %d" % (len(rows), len(ROWS)))
        for b in bad:
            print("check: " + b, file=sys.stderr)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
