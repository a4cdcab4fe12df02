"""Side-by-side speed runs: flodl_core vs hand-written NumPy vs PyTorch (if installed).

    python benchmarks/run.py [--threads 1 2] [--repeats N] [--quick] [--cases add_chain]

For every thread count and case, one worker process per framework is started (the
thread variables are set before NumPy/torch are imported; torch also gets
torch.set_num_threads). Each worker checks its results (run.py compares them across
frameworks before any timing), warms up, then waits. Timed repetitions are
interleaved in rounds (flodl, numpy, torch, flodl, ...; the starting framework
rotates every round) so slow drift of the machine hits every framework alike. The
median repetition is reported. Output: a markdown table on stdout, plus
benchmarks/results/latest.json and latest.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.cases import CASES  # noqa: E402
from benchmarks.harness import THREAD_VARS  # noqa: E402

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")

# (case, numerator, denominator, limit, description). Ratios are of median times.
BARS = (
    ("mlp_step", "flodl", "numpy", 1.15, "MLP step within 1.15x of hand-written NumPy"),
    ("add_chain", "flodl", "torch", 1.5, "add-chain per-op cost within 1.5x of PyTorch"),
    ("lenet_step", "flodl", "torch", 2.0, "LeNet-5 step within 2.0x of PyTorch"),
    ("resnet_blocks", "flodl", "torch", 2.5, "two ResNet blocks step within 2.5x of PyTorch"),
    ("transformer_block", "flodl", "torch", 1.2,
     "transformer block step within 1.2x of PyTorch"),
    ("lstm_step", "flodl", "torch", 1.0, "LSTM step at most PyTorch's time"),
    ("recurrent_attention", "flodl", "torch", 1.5,
     "recurrent attention step within 1.5x of PyTorch"),
    ("adam_step", "flodl", "torch", 1.5, "Adam step (10 M params) within 1.5x of PyTorch foreach"),
    ("graph_overhead", "flodl", "flodl-module", 1.05,
     "FlowBuilder graph within 1.05x of the same hand-written Module"),
)
FRAMEWORK_ORDER = ("flodl", "flodl-module", "numpy", "torch", "numpy+mallopt")
REFERENCE_ONLY = {"numpy+mallopt"}   # shown for information, not part of the ratios


# ------------------------------------------------------------------ workers


class Worker:
    """One framework of one case in its own process, driven line by line over stdin."""

    def __init__(self, case, framework, threads, inner, warmup):
        env = dict(os.environ)
        for var in THREAD_VARS:
            env[var] = str(threads)
        cmd = [sys.executable, "-m", f"benchmarks.cases.{case}", "--framework", framework,
               "--threads", str(threads), "--serve"]
        if inner is not None:
            cmd += ["--inner", str(inner)]
        if warmup is not None:
            cmd += ["--warmup", str(warmup)]
        self.framework = framework
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready = self._read()
        self.meta, self.check = ready["meta"], ready["check"]
        self.times = []

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"worker {self.framework} exited with {self.proc.returncode} "
                               "(its error is above)")
        return json.loads(line)

    def run_once(self):
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        self.times.append(self._read()["t"])

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def checks_agree(ref, other, rtol):
    return len(ref) == len(other) and all(
        abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12) for a, b in zip(ref, other))


def run_case(case_name, threads, frameworks, repeats, inner, warmup, settle):
    mod = importlib.import_module(f"benchmarks.cases.{case_name}")
    case = mod.CASE
    names = [f for f in FRAMEWORK_ORDER if f in mod.FRAMEWORKS and f in frameworks]
    workers, errors = [], {}
    try:
        for fw in names:   # started one at a time: warm-ups never overlap
            print(f"  starting {case_name}/{fw} ({threads} thread(s))...", file=sys.stderr)
            try:
                workers.append(Worker(case_name, fw, threads, inner, warmup))
            except RuntimeError as exc:   # e.g. an op the case needs is missing
                errors[fw] = str(exc)
                print(f"  {case_name}/{fw} FAILED: {exc}", file=sys.stderr)
        check = {w.framework: w.check for w in workers}
        ok = bool(workers) and not errors
        if workers:
            ref = next((w for w in workers if w.framework == "numpy"), workers[0]).check
            ok = ok and all(checks_agree(ref, w.check, case["check_rtol"]) for w in workers)
            print(f"  check ({case_name}): " + "; ".join(
                f"{fw}={[round(v, 7) for v in vals]}" for fw, vals in check.items())
                + (" (one framework only: nothing to compare)" if len(workers) == 1 else ""),
                file=sys.stderr)
        if errors:
            print(f"  not timing {case_name}: {', '.join(errors)} failed", file=sys.stderr)
        elif not ok:
            print(f"  CHECK FAILED for {case_name}: results differ beyond rtol "
                  f"{case['check_rtol']}; not timing this case", file=sys.stderr)
        else:
            for r in range(repeats):
                k = r % len(workers)
                for w in workers[k:] + workers[:k]:
                    if settle and threads > 1:
                        time.sleep(settle)   # let the previous worker's BLAS threads go idle
                    w.run_once()
    finally:
        for w in workers:
            w.close()
    results = {}
    for w in workers:
        t = sorted(w.times)
        results[w.framework] = {
            "median": statistics.median(t) if t else None,
            "q1": t[len(t) // 4] if t else None, "q3": t[(3 * len(t)) // 4] if t else None,
            "min": t[0] if t else None, "times": w.times, "meta": w.meta}
    return {"case": case_name, "title": case["title"], "unit": case["unit"],
            "threads": threads, "check_ok": ok, "check": check, "results": results,
            "errors": errors}


# ------------------------------------------------------------------ reporting


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ratio(entry, num, den, paired=False):
    """Ratio of medians; paired=True: median over rounds of the per-round ratio."""
    a, b = entry["results"].get(num), entry["results"].get(den)
    if not a or not b or a["median"] is None or b["median"] is None:
        return None
    if paired:
        return statistics.median(x / y for x, y in zip(a["times"], b["times"]))
    return a["median"] / b["median"]


def fmt(v, digits=3):
    return "n/a" if v is None else f"{v:.{digits}g}" if v >= 100 else f"{v:.{digits}f}"


def render(report):
    env = report["environment"]
    out = ["## flodl_core benchmarks", "",
           f"- date: {report['date']}",
           f"- CPU: {env['cpu']} ({env['vcpus']} vCPUs), {env['platform']}",
           f"- Python {env['python']}; NumPy {env['numpy']} ({env['numpy_blas']}); "
           f"PyTorch {env['torch'] or 'not installed (torch columns skipped)'}",
           f"- OPENBLAS_CORETYPE as found: {env['OPENBLAS_CORETYPE'] or 'unset'} "
           f"(left unchanged); OpenBLAS kernels in use: {env['openblas_core'] or 'unknown'}",
           f"- flodl_core malloc tuning active: {env['flodl_malloc_tuned']} "
           f"(FLODL_MALLOC_TUNING={env['FLODL_MALLOC_TUNING'] or 'unset'}); the numpy and "
           "torch workers run with glibc defaults",
           f"- one process per framework; thread variables {', '.join(THREAD_VARS)} set "
           "before import (torch.set_num_threads too); median of "
           f"{report['repeats']} interleaved repetitions after warm-up (each repetition: one "
           "untimed step, then the mean of `inner` timed steps)",
           f"- load average (1/5/15 min) at start {env['loadavg_start']}, at end "
           f"{env['loadavg_end']} (other processes on the machine add noise)", ""]
    fws = [f for f in FRAMEWORK_ORDER
           if any(f in e["results"] for e in report["entries"])]
    head = ["case", "threads", "unit"] + fws + ["flodl/numpy", "flodl/torch"]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in report["entries"]:
        cells = [e["case"], str(e["threads"]), e["unit"]]
        for f in fws:
            r = e["results"].get(f)
            cells.append("-" if r is None else fmt(r["median"]))
        if e.get("errors"):
            cells[3:] = ["ERROR (" + ", ".join(e["errors"]) + ")"] * (len(head) - 3)
        elif not e["check_ok"]:
            cells[3:] = ["CHECK FAILED"] * (len(head) - 3)
        else:
            cells += [fmt(ratio(e, "flodl", "numpy"), 2), fmt(ratio(e, "flodl", "torch"), 2)]
        out.append("| " + " | ".join(cells) + " |")
    if "numpy+mallopt" in fws:
        out += ["", "numpy+mallopt (information only): the hand-written NumPy step with "
                "flodl_core's glibc malloc tuning applied."]
    out += ["", "| bar | threads | ratio | limit | result | paired ratio |",
            "|---|---|---|---|---|---|"]
    for b in report["bars"]:
        out.append(f"| {b['description']} | {b['threads']} | {fmt(b['ratio'], 2)} | "
                   f"{b['limit']} | {b['result']} | {fmt(b['paired_ratio'], 2)} |")
    out += ["", "ratio: of the medians (decides PASS/FAIL). paired ratio: median over rounds "
            "of the ratio within one round (less sensitive to drift), for comparison."]
    out += ["", "Spread (interquartile range / median) per framework: " + "; ".join(
        f"{e['case']}@{e['threads']}t " + ", ".join(
            f"{f} {100 * (r['q3'] - r['q1']) / r['median']:.0f}%"
            for f, r in e["results"].items() if r["median"])
        for e in report["entries"] if any(r["median"] for r in e["results"].values()))]
    return "\n".join(out) + "\n"


def evaluate_bars(entries):
    bars = []
    for case, num, den, limit, desc in BARS:
        for e in entries:
            if e["case"] != case:
                continue
            r = ratio(e, num, den) if e["check_ok"] else None
            rp = ratio(e, num, den, paired=True) if e["check_ok"] else None
            if e.get("errors"):
                result = f"FAIL ({', '.join(e['errors'])} failed to run)"
            elif not e["check_ok"]:
                result = "FAIL (check)"
            elif r is None:
                missing = [f for f in (num, den) if e["results"].get(f) is None]
                result = f"n/a ({' and '.join(missing)} not run)"
            else:
                result = "PASS" if r <= limit else "FAIL"
            bars.append({"case": case, "threads": e["threads"], "ratio": r, "limit": limit,
                         "paired_ratio": rp, "description": desc, "result": result})
    return bars


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=None, help="timed repetitions (31; quick 5)")
    p.add_argument("--quick", action="store_true", help="few, short repetitions (development)")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    p.add_argument("--frameworks", nargs="+", default=list(FRAMEWORK_ORDER),
                   choices=FRAMEWORK_ORDER)
    p.add_argument("--settle", type=float, default=0.25,
                   help="seconds of idle before each repetition when threads > 1: OpenBLAS "
                   "worker threads keep spinning ~150 ms after a call and would steal the "
                   "next worker's CPU")
    p.add_argument("--out", default=os.path.join(RESULTS_DIR, "latest.json"))
    args = p.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 31)

    frameworks = list(args.frameworks)
    try:
        has_torch = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        has_torch = False
    if not has_torch and "torch" in frameworks:
        frameworks.remove("torch")
        print("torch is not installed: skipping the torch column", file=sys.stderr)

    load_start = os.getloadavg()
    entries = []
    for threads in args.threads:
        for case_name in args.cases:
            mod = importlib.import_module(f"benchmarks.cases.{case_name}")
            inner = max(1, mod.CASE["inner"] // 4) if args.quick else None
            warmup = 2 if args.quick else None
            entries.append(run_case(case_name, threads, frameworks, repeats, inner, warmup,
                                    args.settle))

    meta_of = {}
    for e in entries:
        for f, r in e["results"].items():
            meta_of.setdefault(f, r["meta"])
    any_meta = next(iter(meta_of.values()), {})
    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "repeats": repeats, "quick": args.quick, "settle_s": args.settle,
        "environment": {
            "cpu": cpu_model(), "vcpus": os.cpu_count(),
            "platform": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "numpy": any_meta.get("numpy"), "numpy_blas": any_meta.get("numpy_blas"),
            "openblas_core": any_meta.get("openblas_core"),
            "torch": meta_of.get("torch", {}).get("torch"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "FLODL_MALLOC_TUNING": os.environ.get("FLODL_MALLOC_TUNING"),
            "flodl_malloc_tuned": meta_of.get("flodl", {}).get("malloc_tuned"),
            "loadavg_start": [round(v, 2) for v in load_start],
            "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        },
        "entries": entries,
    }
    report["bars"] = evaluate_bars(entries)
    text = render(report)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(e["check_ok"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
