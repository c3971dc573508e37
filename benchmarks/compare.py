"""Every side-by-side comparison in one process, one Markdown report.

Runs, in order, and collects their Markdown into one file:

1. weighted histograms (this script): redp ``weighted_bincount`` vs
   ``np.bincount(codes, weights=w)``; redp ``weighted_bincount2`` vs
   ``np.bincount`` on the combined index and ``np.histogramdd``; the marginal
   synthesizer's sufficient statistics (all 190 pairs of 20 columns) vs the
   same with ``np.bincount``; one table of medians and ratios;
2. kNN vs faiss and scikit-learn (``compare_knn.main``);
3. discrete Gaussian vs OpenDP, clip_scale_sum vs NumPy/Opacus-style
   (``compare_mechanisms.main``);
4. accounting vs dp-accounting (``compare_accounting.main``);
5. marginal synthesizer vs smartnoise-synth MST on Adult
   (``compare_synth.main``; needs the Adult CSV and, for the peer, a Python
   with smartnoise-synth).

Peers that are not installed are skipped with a note (each script handles its
own); a section that fails is reported and the rest still run. Timings on a
shared machine are noisy: medians of ``--repeat`` runs; re-run on a quiet one::

    python benchmarks/compare.py --out benchmarks/COMPARE.md            # full sizes
    python benchmarks/compare.py --quick                                # minutes, smaller inputs
    python benchmarks/compare.py --only histogram accounting
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import platform
import statistics
import sys
import time
import traceback
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "benchmarks"))

SECTIONS = ("histogram", "knn", "mechanisms", "accounting", "synth")


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _fmt(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def histogram_section(n: int, repeat: int) -> str:
    """redp weighted histograms vs NumPy: one Markdown table of medians and ratios."""
    from redp._kernels.histogram import weighted_bincount, weighted_bincount2
    from redp.synth.marginal import MarginalStatistics

    g = np.random.default_rng(0)
    w = g.random(n)
    rows = []

    def row(task, ours, peer_name, peer, check=None):
        t_ours = median_time(ours, repeat)
        t_peer = median_time(peer, repeat)
        ok = "" if check is None else ("same" if check() else "DIFFERENT")
        rows.append((task, _fmt(t_ours), peer_name, _fmt(t_peer), f"{t_peer / t_ours:.1f}x", ok))

    for cells in (16, 1024, 65536):
        codes = g.integers(0, cells, n).astype(np.int32)
        weighted_bincount(codes[:100], w[:100], cells)
        row(f"1-way weighted histogram, {cells} cells", lambda: weighted_bincount(codes, w, cells),
            "np.bincount", lambda: np.bincount(codes, weights=w, minlength=cells),
            lambda: np.allclose(weighted_bincount(codes, w, cells), np.bincount(codes, weights=w, minlength=cells)))
    a = g.integers(0, 16, n).astype(np.int32)
    b = g.integers(0, 20, n).astype(np.int32)
    weighted_bincount2(a[:100], b[:100], 16, 20, w[:100])
    row("2-way weighted histogram, 16 x 20", lambda: weighted_bincount2(a, b, 16, 20, w),
        "np.bincount(a * 20 + b)", lambda: np.bincount(a.astype(np.int64) * 20 + b, weights=w, minlength=320),
        lambda: np.allclose(weighted_bincount2(a, b, 16, 20, w).ravel(),
                            np.bincount(a.astype(np.int64) * 20 + b, weights=w, minlength=320)))
    hd_n = min(n, 2_000_000)  # histogramdd is slow: a slice, time scaled to n
    t_hd = median_time(lambda: np.histogramdd((a[:hd_n], b[:hd_n]), bins=(16, 20), range=((0, 16), (0, 20)),
                                              weights=w[:hd_n]), max(1, repeat // 2)) * n / hd_n
    t_ours = median_time(lambda: weighted_bincount2(a, b, 16, 20, w), repeat)
    rows.append(("2-way weighted histogram, 16 x 20", _fmt(t_ours), "np.histogramdd"
                 + ("" if hd_n == n else f" (on {hd_n:,} rows, scaled)"), _fmt(t_hd), f"{t_hd / t_ours:.1f}x", ""))

    card = [16] * 10 + [2, 3, 4, 5, 6, 8, 10, 12, 16, 20]
    sn = min(n, 1_000_000)
    codes_t = np.stack([g.integers(0, c, sn).astype(np.int32) for c in card])
    units = np.floor(w[:sn] * 2**26)
    MarginalStatistics.from_codes(codes_t[:, :100], card, units[:100], "gaussian")

    def numpy_stats():
        c64 = codes_t.astype(np.int64)
        for j, c in enumerate(card):
            np.bincount(c64[j], weights=units, minlength=c)
        for x, y in itertools.combinations(range(len(card)), 2):
            np.bincount(c64[x] * card[y] + c64[y], weights=units, minlength=card[x] * card[y])

    row(f"sufficient statistics, {sn:,} rows x 20 cols (20 + 190 tables)",
        lambda: MarginalStatistics.from_codes(codes_t, card, units, "gaussian"), "np.bincount per table", numpy_stats)

    out = [f"n = {n:,} rows, float64 weights, int32 codes, median of {repeat}\n",
           "| task | redp | peer | peer time | peer / redp | result |", "| --- | ---: | --- | ---: | ---: | --- |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _captured(fn, argv) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(argv)
    return buf.getvalue().strip()


def run(args) -> str:
    from redp.errors import InsecureRandomnessWarning

    warnings.simplefilter("ignore", InsecureRandomnessWarning)
    quick = args.quick
    rep = args.repeat or (3 if quick else 5)
    parts = [f"# redp side-by-side comparisons\n\n{platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}; "
             f"{'--quick sizes' if quick else 'full sizes'}; medians of {rep} runs unless noted.\n"]
    only = set(args.only or SECTIONS)

    def section(name, title, body):
        if name not in only:
            return
        print(f"[compare] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            text = body()
        except SystemExit as exc:
            text = f"_skipped: exited with {exc.code}_"
        except Exception:  # noqa: BLE001 - report and keep going
            text = "_failed:_\n\n```\n" + traceback.format_exc()[-2000:] + "```"
        parts.append(f"## {title}\n\n{text}\n\n_section time {time.perf_counter() - t0:.0f} s_\n")

    section("histogram", "Weighted histograms vs NumPy",
            lambda: histogram_section(args.hist_n or (2_000_000 if quick else 10_000_000), rep))

    def knn():
        import compare_knn

        argv = ["--repeats", str(max(1, rep // 2) if quick else rep)]
        argv += ["--n", "20000", "--d", "8", "32"] if quick else []
        return _captured(compare_knn.main, argv)

    section("knn", "kNN vs faiss and scikit-learn (compare_knn.py)", knn)

    def mech():
        import compare_mechanisms

        argv = ["--repeat", str(rep)] + (["--n-redp", "200000", "--n-opendp", "2000"] if quick else [])
        return _captured(compare_mechanisms.main, argv)

    section("mechanisms", "Mechanisms vs OpenDP / NumPy (compare_mechanisms.py)", mech)

    def accounting():
        import compare_accounting

        argv = ["--repeat", str(rep)] + (["--records", "1000000"] if quick else [])
        return _captured(compare_accounting.main, argv)

    section("accounting", "Accounting vs dp-accounting (compare_accounting.py)", accounting)

    def synth():
        import compare_synth

        if not os.path.exists(args.adult):
            return f"_skipped: Adult CSV not found at {args.adult} (pass --adult PATH)_"
        argv = [args.adult, "--seeds", "1" if quick else "3"]
        if args.peer_python:
            argv += ["--peer-python", args.peer_python]
        return _captured(compare_synth.main, argv)

    section("synth", "Marginal synthesizer vs smartnoise-synth MST (compare_synth.py)", synth)
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--hist-n", type=int, default=None, help="rows of the histogram comparison (default 10^7)")
    ap.add_argument("--only", nargs="*", choices=SECTIONS)
    ap.add_argument("--adult", default="/work/shared/data/adult.csv")
    ap.add_argument("--peer-python", default=None, help="a Python with smartnoise-synth (compare_synth)")
    ap.add_argument("--out", default=None, help="write the Markdown report here too")
    args = ap.parse_args(argv)
    report = run(args)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")
    return report


if __name__ == "__main__":
    main()
