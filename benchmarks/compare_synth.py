"""Side-by-side: redp MarginalSynthesizer vs smartnoise-synth MST on Adult.

Both get the same discretisation (the packaged public Adult schema: six numeric
columns in 16 equal-width public bins, nine categorical columns) and the same
(epsilon, delta) budget; both fit and then sample as many rows as the input.
Utility is the average total variation distance over all 2-way marginals of
the binned codes, synthetic vs real.

smartnoise-synth pulls torch/opacus, so it lives in its own venv and runs in a
subprocess (``--peer-python``); the comparison skips it cleanly when absent.

Usage (re-run on a quiet machine for final timings)::

    python benchmarks/compare_synth.py /work/shared/data/adult.csv \\
        --peer-python /work/venv_peer/bin/python --seeds 3

The table is printed and, with ``--json PATH``, written as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PEER_SCRIPT = r"""
import sys, time, json
import numpy as np, pandas as pd
from snsynth import Synthesizer
codes = np.load(sys.argv[1]); eps = float(sys.argv[2]); delta = float(sys.argv[3]); out = sys.argv[4]
seed = int(sys.argv[5])
np.random.seed(seed)  # the peer draws from NumPy's global state (peer process only)
df = pd.DataFrame(codes, columns=[f"c{j}" for j in range(codes.shape[1])])
t0 = time.perf_counter()
synth = Synthesizer.create("mst", epsilon=eps, delta=delta)
synth.fit(df, categorical_columns=list(df.columns), preprocessor_eps=0.0)
t1 = time.perf_counter()
s = synth.sample(len(df))
t2 = time.perf_counter()
np.save(out, np.asarray(s[list(df.columns)].to_numpy(), dtype=np.int64))
print(json.dumps({"fit_s": t1 - t0, "sample_s": t2 - t1}))
"""


def cks_epsilon(rho: float, delta: float) -> float:
    """(epsilon, delta) of rho-zCDP by the Canonne-Kamath-Steinke bound (grid over alpha)."""
    alphas = np.exp(np.linspace(np.log(1.0001), np.log(1e4), 20000))
    eps = alphas * rho + (np.log(1 / delta) + (alphas - 1) * np.log1p(-1 / alphas) - np.log(alphas)) / (alphas - 1)
    return float(max(eps.min(), 0.0))


def epsilon_to_rho(epsilon: float, delta: float):
    """Largest rho whose CKS conversion stays within epsilon, and where the number came from."""
    try:
        from redp.accounting import epsilon_to_zcdp  # the project's accountant, when present

        return float(epsilon_to_zcdp(epsilon, delta)), "redp.accounting.epsilon_to_zcdp"
    except ImportError:
        pass
    lo, hi = 0.0, epsilon
    for _ in range(200):
        mid = (lo + hi) / 2
        if cks_epsilon(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo, "CKS bisection in compare_synth.py"


def avg_tvd_2way(real: np.ndarray, synth: np.ndarray, card) -> float:
    """Mean over column pairs of the total variation distance of the 2-way histograms."""
    tv = []
    for a, b in itertools.combinations(range(real.shape[1]), 2):
        n_cells = card[a] * card[b]
        p = np.bincount(real[:, a].astype(np.int64) * card[b] + real[:, b], minlength=n_cells) / real.shape[0]
        q = np.bincount(synth[:, a].astype(np.int64) * card[b] + synth[:, b], minlength=n_cells) / synth.shape[0]
        tv.append(0.5 * np.abs(p - q).sum())
    return float(np.mean(tv))


def avg_tvd_1way(real, synth, card) -> float:
    tv = []
    for j, c in enumerate(card):
        p = np.bincount(real[:, j], minlength=c) / real.shape[0]
        q = np.bincount(synth[:, j], minlength=c) / synth.shape[0]
        tv.append(0.5 * np.abs(p - q).sum())
    return float(np.mean(tv))


def run_redp(data, n, schema, rho, seed, noise):
    from redp.synth import MarginalSynthesizer

    t0 = time.perf_counter()
    model = MarginalSynthesizer(noise=noise).fit(data, schema, rho=rho, rng=seed)
    t1 = time.perf_counter()
    s = model.sample(n, rng=seed + 1)
    t2 = time.perf_counter()
    return schema.encode_marginal(s), t1 - t0, t2 - t1


def run_peer(peer_python, codes, epsilon, delta, seed, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst, script = (os.path.join(tmp, f) for f in ("codes.npy", "synth.npy", "peer.py"))
        np.save(src, codes.astype(np.int64))
        with open(script, "w") as fh:
            fh.write(PEER_SCRIPT)
        t0 = time.perf_counter()
        proc = subprocess.run([peer_python, script, src, str(epsilon), str(delta), dst, str(seed)],
                              capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        return np.load(dst), info["fit_s"], info["sample_s"], wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("adult_csv")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=1e-6)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--noise", default="gaussian", choices=["gaussian", "discrete"])
    ap.add_argument("--peer-python", default=None, help="python of a venv with smartnoise-synth")
    ap.add_argument("--peer-seeds", type=int, default=1, help="peer runs (about a minute each)")
    ap.add_argument("--peer-timeout", type=float, default=900)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import warnings

    import pandas as pd
    from redp.data import load_schema
    from redp.errors import InsecureRandomnessWarning

    warnings.simplefilter("ignore", InsecureRandomnessWarning)  # seeded noise: a benchmark, not a release

    schema = load_schema("adult")
    df = pd.read_csv(args.adult_csv, skipinitialspace=True)
    table, _ = schema.validate(df)
    real = schema.encode_marginal(table)
    card = schema.cardinalities
    rho, rho_source = epsilon_to_rho(args.epsilon, args.delta)
    print(f"Adult: {real.shape[0]} rows x {real.shape[1]} columns; epsilon={args.epsilon}, delta={args.delta} "
          f"-> rho={rho:.6f} zCDP ({rho_source})")

    rows = []
    run_redp(df.head(500), 500, schema, rho, 0, args.noise)  # JIT warm-up (cached after the first run anyway)
    res = []
    for seed in range(args.seeds):
        s, tf, ts = run_redp(df, len(df), schema, rho, seed, args.noise)
        res.append((avg_tvd_2way(real, s, card), avg_tvd_1way(real, s, card), tf, ts))
    rows.append(("redp MarginalSynthesizer" + (" (discrete)" if args.noise == "discrete" else ""), res))

    peer_note = None
    if args.peer_python and os.path.exists(args.peer_python):
        res = []
        try:
            for seed in range(args.peer_seeds):
                s, tf, ts, _ = run_peer(args.peer_python, real, args.epsilon, args.delta, seed, args.peer_timeout)
                res.append((avg_tvd_2way(real, s, card), avg_tvd_1way(real, s, card), tf, ts))
            rows.append(("smartnoise-synth MST", res))
        except Exception as exc:  # noqa: BLE001 - report and keep our numbers
            peer_note = f"peer failed: {exc}"
    else:
        peer_note = "smartnoise-synth peer skipped (no --peer-python)"

    out = []
    print(f"\n{'synthesizer':34s} {'runs':>4s} {'2-way TVD':>15s} {'1-way TVD':>10s} {'fit s':>8s} {'sample s':>9s} {'total s':>8s}")
    for name, res in rows:
        tv2 = [r[0] for r in res]
        tv1 = [r[1] for r in res]
        tf = statistics.median(r[2] for r in res)
        ts = statistics.median(r[3] for r in res)
        sd = statistics.stdev(tv2) if len(tv2) > 1 else 0.0
        print(f"{name:34s} {len(res):4d} {np.mean(tv2):8.4f}+-{sd:.4f} {np.mean(tv1):10.4f} {tf:8.3f} {ts:9.3f} {tf + ts:8.3f}")
        out.append({"name": name, "runs": len(res), "tvd2_mean": float(np.mean(tv2)), "tvd2_sd": sd,
                    "tvd1_mean": float(np.mean(tv1)), "fit_s_median": tf, "sample_s_median": ts})
    if peer_note:
        print(peer_note)
        print("reference (measured by the project on this machine class): smartnoise-synth MST 58 s fit+sample, "
              "2-way TVD 0.114")
    if len(out) == 2:
        ours, peer = out
        speed = (peer["fit_s_median"] + peer["sample_s_median"]) / (ours["fit_s_median"] + ours["sample_s_median"])
        print(f"\nspeed-up {speed:.1f}x; TVD difference {ours['tvd2_mean'] - peer['tvd2_mean']:+.4f} "
              f"(acceptance: >= 10x and <= +0.02)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"epsilon": args.epsilon, "delta": args.delta, "rho": rho, "rows": out, "note": peer_note}, fh,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
