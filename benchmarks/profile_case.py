"""Profile one benchmark case under cProfile (flodl_core by default).

    python benchmarks/profile_case.py add_chain [--steps 50] [--top 25] [--sort tottime]
    python benchmarks/profile_case.py mlp_step --steps 50 --threads 1
    python benchmarks/profile_case.py mlp_step --save /tmp/mlp.prof   # for snakeviz etc.
    python benchmarks/profile_case.py resnet_blocks --steps 20      # any case in CASES

Builds the same workload run.py times (the case's factory), runs its check and a
warm-up, then profiles ``--steps`` steps and prints the top functions. cProfile
adds overhead to every Python call, so absolute times are inflated (most for the
add chain); use it to see where the time goes, not how much there is.
"""
from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.cases import CASES  # noqa: E402
from benchmarks.harness import set_threads  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("case", choices=CASES)
    p.add_argument("--framework", default="flodl",
                   help="a framework of the case (flodl, numpy, torch, numpy+mallopt)")
    p.add_argument("--steps", type=int, default=None,
                   help="profiled steps (default 50: add chains or training steps)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime, ...)")
    p.add_argument("--save", default=None, help="also write the raw profile to this file")
    args = p.parse_args(argv)

    set_threads(args.threads)   # before numpy is imported by the case's factory
    import cProfile
    import importlib
    import pstats
    import time

    mod = importlib.import_module(f"benchmarks.cases.{args.case}")
    if args.framework not in mod.FRAMEWORKS:
        p.error(f"{args.case} has no framework {args.framework!r}; choose from "
                f"{', '.join(sorted(mod.FRAMEWORKS))}")
    bench = mod.FRAMEWORKS[args.framework](args.threads)
    bench.check()
    for _ in range(mod.CASE["warmup"]):
        bench.step()
    steps = args.steps or 50

    t0 = time.perf_counter()
    for _ in range(steps):
        bench.step()
    plain = (time.perf_counter() - t0) / steps * mod.CASE["scale"]

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(steps):
        bench.step()
    prof.disable()
    profiled = (time.perf_counter() - t0) / steps * mod.CASE["scale"]

    print(f"{args.case} / {args.framework}, {args.threads} thread(s), {steps} steps: "
          f"{plain:.3f} {mod.CASE['unit']} unprofiled, {profiled:.3f} under cProfile")
    if args.save:
        prof.dump_stats(args.save)
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
