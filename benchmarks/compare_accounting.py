"""redp.accounting vs dp-accounting on the same RDP computations, in one process.

Prints a Markdown table of median wall times (and the ratio peer / redp), plus
the values each side computed, so speed is never bought with a different
answer. dp-accounting rows are skipped when it is not installed.

    python benchmarks/compare_accounting.py            # default repeats
    python benchmarks/compare_accounting.py --repeat 7 # quieter machine, more repeats

Notes on the numbers: dp-accounting (>= 0.4) sums the absolute values of the
fractional-order series (a looser upper bound); redp keeps the signs (exact),
so fractional-order RDP values differ slightly, integer orders agree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "benchmarks"))
from common import safe_import  # noqa: E402

import redp.accounting as acc  # noqa: E402

dpa = safe_import("dp_accounting")
dp_rdp = safe_import("dp_accounting.rdp.rdp_privacy_accountant")
if dp_rdp is not None:
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)  # dp-accounting's convergence warnings

ORDERS = np.asarray(acc.DEFAULT_ORDERS)


def median_time(fn, repeat):
    fn()  # warm-up (JIT, caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def fmt(t):
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--records", type=int, default=10**7)
    args = ap.parse_args(argv)
    rows = []

    def row(task, ours, theirs, note=""):
        t_ours = median_time(ours[0], args.repeat)
        v_ours = ours[1]()
        if theirs is None:
            rows.append((task, fmt(t_ours), "skipped", "", f"{v_ours:.10g}", "", note))
            return
        t_theirs = median_time(theirs[0], max(1, args.repeat // 2) if t_ours > 0.5 else args.repeat)
        v_theirs = theirs[1]()
        rows.append((task, fmt(t_ours), fmt(t_theirs), f"{t_theirs / t_ours:.1f}x", f"{v_ours:.10g}", f"{v_theirs:.10g}", note))

    # 1. one-step subsampled-Gaussian RDP over the 151 default orders
    for q, sigma in [(0.01, 1.0), (0.04, 1.5), (0.1, 0.8), (0.001, 4.0)]:
        ours = (lambda q=q, s=sigma: acc.subsampled_gaussian_rdp(q, s, 1, ORDERS),
                lambda q=q, s=sigma: float(acc.subsampled_gaussian_rdp(q, s, 1, ORDERS)[0]))
        theirs = None
        if dp_rdp is not None:
            theirs = (lambda q=q, s=sigma: dp_rdp._compute_rdp_poisson_subsampled_gaussian(q, s, ORDERS),
                      lambda q=q, s=sigma: float(dp_rdp._compute_rdp_poisson_subsampled_gaussian(q, s, ORDERS)[0]))
        row(f"RDP 151 orders q={q} sigma={sigma}", ours, theirs, "value: RDP at order 1.1")

    # 2. integer orders only (both exact)
    ints = np.arange(2.0, 257.0)
    ours = (lambda: acc.subsampled_gaussian_rdp(0.01, 1.0, 1, ints),
            lambda: float(acc.subsampled_gaussian_rdp(0.01, 1.0, 1, ints)[30]))
    theirs = None
    if dp_rdp is not None:
        theirs = (lambda: dp_rdp._compute_rdp_poisson_subsampled_gaussian(0.01, 1.0, ints),
                  lambda: float(dp_rdp._compute_rdp_poisson_subsampled_gaussian(0.01, 1.0, ints)[30]))
    row("RDP integer orders 2..256 q=0.01 sigma=1", ours, theirs, "value: order 32")

    # 3. end to end epsilon of DP-SGD (compose + convert)
    def ours_eps():
        return acc.rdp_to_epsilon(ORDERS, acc.subsampled_gaussian_rdp(0.04, 1.5, 2250, ORDERS), 1e-5)[0]

    theirs = None
    if dpa is not None:
        def theirs_eps():
            a = dp_rdp.RdpAccountant(list(ORDERS))
            a.compose(dpa.PoissonSampledDpEvent(0.04, dpa.GaussianDpEvent(1.5)), 2250)
            return a.get_epsilon(1e-5)
        theirs = (theirs_eps, theirs_eps)
    row("epsilon: q=0.04 sigma=1.5 T=2250 delta=1e-5", (ours_eps, ours_eps), theirs, "published 7.32911117")

    # 4. calibration of the DP-SGD noise multiplier
    def ours_cal():
        return acc.calibrate_dpsgd(3.0, 1e-5, 0.01, 5000)

    theirs = None
    if dpa is not None:
        def theirs_cal():
            return dpa.calibrate_dp_mechanism(
                lambda: dp_rdp.RdpAccountant(list(ORDERS)),
                lambda s: dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.01, dpa.GaussianDpEvent(s)), 5000),
                3.0, 1e-5, dpa.ExplicitBracketInterval(0.3, 10.0), tol=1e-6)
        theirs = (theirs_cal, theirs_cal)
    row("calibrate_dpsgd eps=3 q=0.01 T=5000", (ours_cal, ours_cal), theirs, "noise multiplier")

    # 5. per-record ledger: n records, DP-SGD accounting; the peer runs its accountant once per grid value
    w = np.clip(np.random.default_rng(0).beta(5.0, 1.0, size=args.records), 0.2, 1.0)

    def ours_pr():
        return acc.per_record_epsilon(w, 1e-6, dpsgd=(0.01, 1.0, 1000), uniform_rho=0.01)

    theirs = None
    if dpa is not None:
        levels = np.unique(acc.quantize_weights(w)) / 256

        def theirs_pr():
            table = {}
            for lv in levels:
                a = dp_rdp.RdpAccountant(list(ORDERS))
                a.compose(dpa.PoissonSampledDpEvent(0.01, dpa.GaussianDpEvent(1.0 / lv)), 1000)
                a.compose(dpa.ZCDpEvent(0.01))
                table[lv] = a.get_epsilon(1e-6)
            return table[levels[-1]]
        theirs = (theirs_pr, theirs_pr)
    row(f"per_record_epsilon n={args.records:.0e} DP-SGD", (ours_pr, lambda: float(ours_pr().max())), theirs,
        "peer: one accountant per grid value, no gather")

    print(f"repeats: {args.repeat} (medians); machine: {os.cpu_count()} cores\n")
    print("| task | redp | dp-accounting | ratio | redp value | peer value | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
