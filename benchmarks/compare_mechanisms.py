"""Side-by-side timings for redp.mechanisms, ratios measured in one run.

* ``discrete_gaussian`` (seeded and secure) vs OpenDP's vector discrete
  Gaussian (``make_gaussian`` over ``vector_domain(atom_domain(T=int))``),
  sigma in {1, 100, 1e4}; target: redp secure >= 20x OpenDP's throughput.
* ``clip_scale_sum`` on (4096, 10^4) float32 vs the float64 NumPy reference
  (``redp._reference.clip_scale_sum_reference``; target >= 3x) and an
  Opacus-style float32 NumPy implementation (einsum norms, then einsum).

Every number is the median of ``--repeat`` runs (wall clock, plus CPU time on
one thread for clip_scale_sum, which stays meaningful on a loaded machine). Re-run on a quiet machine
for final numbers::

    python benchmarks/compare_mechanisms.py --repeat 7

Prints a Markdown table (and writes JSON with ``--json PATH``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/benchmarks")
from bench_mechanisms import opacus_style_clip_scale_sum, opendp_vector_gaussian  # noqa: E402
from common import safe_import  # noqa: E402

from redp import mechanisms  # noqa: E402
from redp._reference import clip_scale_sum_reference  # noqa: E402
from redp.errors import InsecureRandomnessWarning  # noqa: E402


def median_time(fn, repeat, clock=time.perf_counter):
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n-redp", type=int, default=1_000_000)
    ap.add_argument("--n-opendp", type=int, default=10_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", InsecureRandomnessWarning)
    rows = []

    dp = safe_import("opendp.prelude")
    for sigma in (1.0, 100.0, 1e4):
        mechanisms.discrete_gaussian(10, sigma, 0)  # warm up
        t_seed = median_time(lambda: mechanisms.discrete_gaussian(args.n_redp, sigma, np.random.default_rng(0)), args.repeat)
        t_sec = median_time(lambda: mechanisms.discrete_gaussian(args.n_redp, sigma, "secure"), args.repeat)
        t_seed1 = median_time(
            lambda: mechanisms.discrete_gaussian(args.n_redp, sigma, np.random.default_rng(0), n_threads=1), args.repeat
        )
        row = {
            "kernel": f"discrete_gaussian sigma={sigma:g}",
            "redp seeded (ns/sample)": 1e9 * t_seed / args.n_redp,
            "redp seeded 1 thread (ns/sample)": 1e9 * t_seed1 / args.n_redp,
            "redp secure (ns/sample)": 1e9 * t_sec / args.n_redp,
        }
        if dp is not None:
            meas = opendp_vector_gaussian(sigma)
            zeros = [0] * args.n_opendp
            t_odp = median_time(lambda: meas(zeros), max(3, args.repeat // 2))
            row["opendp (ns/sample)"] = 1e9 * t_odp / args.n_opendp
            row["speedup secure vs opendp"] = (t_odp / args.n_opendp) / (t_sec / args.n_redp)
            row["speedup seeded vs opendp"] = (t_odp / args.n_opendp) / (t_seed / args.n_redp)
        rows.append(row)

    rng = np.random.default_rng(0)
    g = rng.standard_normal((4096, 10_000)).astype(np.float32)
    w = rng.uniform(size=4096)
    mechanisms.clip_scale_sum(g[:2], w[:2], 1.0)  # JIT cache
    t_redp = median_time(lambda: mechanisms.clip_scale_sum(g, w, 1.0), args.repeat)
    t_ref = median_time(lambda: clip_scale_sum_reference(g, w, 1.0), max(3, args.repeat // 2))
    t_opa = median_time(lambda: opacus_style_clip_scale_sum(g, w, 1.0), args.repeat)
    # CPU time on one thread: robust to other load on a shared machine
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    c_redp = median_time(lambda: mechanisms.clip_scale_sum(g, w, 1.0), args.repeat, time.process_time)
    numba.set_num_threads(before)
    c_opa = median_time(lambda: opacus_style_clip_scale_sum(g, w, 1.0), args.repeat, time.process_time)
    rows.append(
        {
            "kernel": "clip_scale_sum (4096, 10^4) float32",
            "redp 1 thread, CPU (ms)": 1e3 * c_redp,
            "opacus-style, CPU (ms)": 1e3 * c_opa,
            "speedup vs opacus-style, CPU time": c_opa / c_redp,
            "redp (ms)": 1e3 * t_redp,
            "numpy reference f64 (ms)": 1e3 * t_ref,
            "opacus-style numpy f32 (ms)": 1e3 * t_opa,
            "speedup vs reference": t_ref / t_redp,
            "speedup vs opacus-style": t_opa / t_redp,
            "effective bandwidth (GB/s)": g.nbytes / t_redp / 1e9,
        }
    )

    print(f"repeats: {args.repeat} (medians); numba threads: {__import__('numba').get_num_threads()}\n")
    for row in rows:
        print(f"| {row['kernel']} | value |\n|---|---|")
        for key, val in row.items():
            if key != "kernel":
                print(f"| {key} | {val:,.2f} |")
        print()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return rows


if __name__ == "__main__":
    main()
