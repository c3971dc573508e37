"""The paper's experiment: uniform vs REPS vs random weighting, attacked by outlierness decile.

Protocol (one *run* = dataset x seed x epsilon x arm):

* the population is split by a *split seed* into members (fitted), non-members
  (held out) and the attacker's auxiliary reference sample (40% / 40% / 20%);
* every arm gets the same split, the same total budget, the same synthesizer
  and the same *mechanism seed* (a different stream from the split's), so arm
  differences are paired;
* targets are members plus non-members; deciles come from a non-private oracle
  outlierness (mean distance to the 5 nearest records of the whole population);
* attacks: DCR and the DOMIAS-style density ratio (k=1); "best" is the larger
  AUC of the two in each run (chosen the same way for every arm);
* utility: average 2-way TVD (members vs synthetic) and, where the dataset has
  a label, TSTR (AUC of a logistic regression trained on synthetic data,
  tested on the held-out non-members).

Results are appended to ``runs.csv`` after every run, so an interrupted
experiment resumes where it stopped. Nothing here is DP: it reads private
data, membership labels and the oracle.

Examples
--------
>>> import tempfile
>>> rows = run_experiment("simulated", epsilons=[10], seeds=1, arms=["uniform", "reps"],
...                       out_dir=tempfile.mkdtemp(), n=1000, progress=False)
>>> sorted({r["arm"] for r in rows})
['reps', 'uniform']
"""

from __future__ import annotations

import csv
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["ARMS", "DATASETS", "Population", "load_population", "run_experiment", "summarize", "write_outputs"]

ARMS = {"uniform": "uniform", "reps": "inverse", "random": "random"}
DATASETS = ("simulated", "breast-cancer", "adult", "german")

# Simulated table for the experiment: two continuous columns in fine public bins
# plus one categorical column, so the tree of 2-way marginals can represent a
# single record (uniform synthesis can leak) and outliers are unique.
SIMULATED = dict(n_continuous=2, n_categorical=1, bins=64, outlier_fraction=0.02, magnitude=5.0)


@dataclass
class Population:
    """A dataset to attack: the table, its public schema and an optional label column."""

    name: str
    table: dict
    schema: object
    label: str | None = None


def _read_whitespace(path, schema) -> dict:
    from ..schema import Categorical

    with open(path) as f:
        header = f.readline().split()
        rows = [line.split() for line in f if line.strip()]
    table = {}
    for name in schema.names:
        j = header.index(name)
        col = [r[j] for r in rows]
        spec = schema.columns[name]
        if isinstance(spec, Categorical):
            levels = spec.levels
            table[name] = np.array([type(levels[0])(v) if not isinstance(levels[0], str) else v for v in col], dtype=object)
        else:
            table[name] = np.array(col, dtype=np.float64)
    return table


def load_population(name: str, data_path=None, n: int | None = None, rng=None) -> Population:
    """Load a dataset for the experiment.

    ``simulated`` is generated (``n`` records, default 10,000); ``breast-cancer``
    comes from scikit-learn; ``adult`` and ``german`` are read from
    ``data_path`` (a CSV / whitespace file as distributed by UCI), with the
    public schemas shipped in :mod:`redp.data`.
    """
    from ..data import load_schema
    from ..datasets import simulate

    if name == "simulated":
        table, schema, _ = simulate(10_000 if n is None else n, rng=rng, **SIMULATED)
        return Population(name, table, schema, label=None)
    if name == "breast-cancer":
        from sklearn.datasets import load_breast_cancer

        schema = load_schema("breast_cancer")
        bunch = load_breast_cancer()
        table = {c: bunch.data[:, j] for j, c in enumerate(schema.names[:-1])}
        table["diagnosis"] = np.asarray(bunch.target_names)[bunch.target].astype(object)
        return Population(name, table, schema, label="diagnosis")
    if name in ("adult", "german"):
        if data_path is None:
            raise ValueError(f"Dataset {name!r} is read from a path: pass --data PATH (e.g. ../shared/data/).")
        schema = load_schema("adult" if name == "adult" else "german_credit")
        if os.path.isdir(data_path):
            data_path = os.path.join(data_path, "adult.csv" if name == "adult" else "german.txt")
        if name == "adult":
            from ..io import read_csv

            table = read_csv(data_path, schema)
            return Population(name, table, schema, label="Salary")
        return Population(name, _read_whitespace(data_path, schema), schema, label="CLASSIFICATION")
    raise ValueError(f"The 'dataset' parameter must be one of {list(DATASETS)}. Got {name!r} instead.")


def _split(n: int, seed: int):
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0])).permutation(n)
    a, b = int(0.4 * n), int(0.8 * n)
    return perm[:a], perm[a:b], perm[b:]


def _take(table: dict, idx) -> dict:
    return {c: v[idx] for c, v in table.items()}


def _label_xy(schema, table, label):
    """Features: the distance encoding of every column but the label; y: label index."""
    from ..schema import Schema

    feats = Schema({c: schema.columns[c] for c in schema.names if c != label})
    X = feats.encode_distance({c: table[c] for c in feats.names})
    y = schema.encode_marginal(table)[:, list(schema.names).index(label)]
    return X, y


def _run_one(pop, validated, enc, codes, oracle, split, arm, epsilon, delta, seed, eps_index, synthesizer):
    from ..pipeline import REPS
    from .attacks import dcr, density_ratio
    from .metrics import roc_auc
    from .utility import tstr, tvd_2way

    members, nonmembers, reference = split
    mech = np.random.SeedSequence([seed, 1, eps_index])
    model = REPS(epsilon=epsilon, delta=delta, schema=pop.schema, weighting=ARMS[arm], synthesizer=synthesizer,
                 rng=np.random.default_rng(mech))
    t0 = time.perf_counter()
    model.fit(_take(validated, members))
    synthetic = model.sample(len(members), rng=np.random.default_rng(np.random.SeedSequence([seed, 2, eps_index])))
    fit_seconds = time.perf_counter() - t0
    syn_valid, _ = pop.schema.validate(synthetic)
    S = pop.schema.encode_distance(syn_valid)
    targets = np.concatenate([members, nonmembers])
    labels = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    o = oracle[targets]
    edges = np.quantile(o, np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, o, side="right") - 1, 0, 9)
    scores = {"dcr": dcr(enc[targets], S), "dr": density_ratio(enc[targets], S, enc[reference], k=1)}
    row = {"dataset": pop.name, "seed": seed, "epsilon": epsilon, "arm": arm, "fit_seconds": round(fit_seconds, 4)}
    for name, s in scores.items():
        row[f"auc_{name}"] = roc_auc(s, labels)
        for d in range(10):
            m = decile == d
            row[f"auc_{name}_d{d + 1}"] = roc_auc(s[m], labels[m]) if 0 < labels[m].sum() < m.sum() else float("nan")
    row["auc_best"] = max(row["auc_dcr"], row["auc_dr"])
    row["auc_top_best"] = max(row["auc_dcr_d10"], row["auc_dr_d10"])
    syn_codes = pop.schema.encode_marginal(syn_valid)
    row["tvd_2way"] = tvd_2way(codes[members], syn_codes, pop.schema.cardinalities)
    if pop.label is not None:
        Xs, ys = _label_xy(pop.schema, syn_valid, pop.label)
        Xr, yr = _label_xy(pop.schema, _take(validated, nonmembers), pop.label)
        row["tstr"] = tstr(Xs, ys, Xr, yr, metric="auc")
    else:
        row["tstr"] = float("nan")
    rep = model.privacy_report()
    w_top = rep.weights[decile[: len(members)] == 9]
    row["mean_weight_top"] = float(w_top.mean()) if len(w_top) else float("nan")
    row["epsilon_i_top"] = float(rep.per_record_epsilon[decile[: len(members)] == 9].mean()) if len(w_top) else float("nan")
    row["epsilon_global"] = rep.epsilon
    return row, (oracle[members], rep.per_record_epsilon)


def _done_keys(path):
    if not os.path.exists(path):
        return [], set()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keys = {(r["dataset"], int(r["seed"]), float(r["epsilon"]), r["arm"]) for r in rows}
    return rows, keys


def _append(path, row):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def run_experiment(dataset, *, epsilons=(1.0, 3.0, 10.0), seeds=10, arms=("uniform", "reps", "random"), out_dir,
                   data_path=None, n=None, delta=1e-6, synthesizer="marginal", progress=True):
    """Run every (seed, epsilon, arm) not yet in ``out_dir/runs.csv``; return all rows.

    Parameters
    ----------
    dataset : {"simulated", "breast-cancer", "adult", "german"}
    epsilons : sequence of float
    seeds : int
        Seeds 0 .. seeds-1; each fixes a split and the mechanisms' streams.
    arms : sequence of {"uniform", "reps", "random"}
    out_dir : path
        Receives runs.csv (and, via :func:`write_outputs`, the table and figures).
    """
    from ..scoring import knn_outlierness

    for a in arms:
        if a not in ARMS:
            raise ValueError(f"Unknown arm {a!r}; choose from {list(ARMS)}.")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "runs.csv")
    rows, done = _done_keys(path)
    pop = load_population(dataset, data_path, n=n, rng=12345)
    validated, _ = pop.schema.validate(pop.table)
    enc = pop.schema.encode_distance(validated)
    codes = pop.schema.encode_marginal(validated)
    oracle = knn_outlierness(enc, k=5)
    todo = [(s, i, e, a) for s in range(seeds) for i, e in enumerate(epsilons) for a in arms
            if (pop.name, s, float(e), a) not in done]
    t0 = time.perf_counter()
    for j, (s, i, e, a) in enumerate(todo):
        row, per_record = _run_one(pop, validated, enc, codes, oracle, _split(len(enc), s), a, float(e), delta, s, i,
                                   synthesizer)
        _append(path, row)
        rows.append({k: str(v) for k, v in row.items()})
        if s == 0 and a == "reps" and i == len(epsilons) - 1:
            np.savez(os.path.join(out_dir, "per_record_seed0.npz"), oracle=per_record[0], epsilon_i=per_record[1])
        if progress:
            el = time.perf_counter() - t0
            sys.stderr.write(f"\r[{j + 1}/{len(todo)}] seed {s} eps {e} {a:<8} {el:6.1f}s "
                             f"(eta {el / (j + 1) * (len(todo) - j - 1):5.0f}s)")
            sys.stderr.flush()
    if progress and todo:
        sys.stderr.write("\n")
    return rows


def _mean_ci(x, rng, n_boot=2000):
    x = np.asarray([v for v in x if np.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float("nan"), float("nan")
    boots = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(x.mean()), float(lo), float(hi)


def summarize(rows) -> str:
    """Markdown: mean [95% bootstrap CI over seeds] per arm and epsilon, plus paired differences."""
    rng = np.random.default_rng(0)
    f = lambda r, k: float(r[k])  # noqa: E731
    datasets = sorted({r["dataset"] for r in rows})
    out = []
    for ds in datasets:
        rs = [r for r in rows if r["dataset"] == ds]
        eps = sorted({f(r, "epsilon") for r in rs})
        arms = [a for a in ARMS if any(r["arm"] == a for r in rs)]
        out.append(f"### {ds}\n")
        out.append("| epsilon | arm | top-decile AUC (best attack) | overall AUC (best) | TSTR AUC | 2-way TVD | mean w, top decile | seeds |")
        out.append("|---|---|---|---|---|---|---|---|")
        for e in eps:
            for a in arms:
                sel = [r for r in rs if f(r, "epsilon") == e and r["arm"] == a]
                cells = []
                for k in ("auc_top_best", "auc_best", "tstr", "tvd_2way", "mean_weight_top"):
                    m, lo, hi = _mean_ci([f(r, k) for r in sel], rng)
                    cells.append("n/a" if not np.isfinite(m) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
                out.append(f"| {e:g} | {a} | " + " | ".join(cells) + f" | {len(sel)} |")
        out.append("")
        out.append("Paired differences in top-decile AUC (best attack), same seed and epsilon:\n")
        out.append("| epsilon | comparison | mean difference [95% CI] | excludes 0 |")
        out.append("|---|---|---|---|")
        for e in eps:
            base = {int(r["seed"]): f(r, "auc_top_best") for r in rs if f(r, "epsilon") == e and r["arm"] == "uniform"}
            for a in ("reps", "random"):
                other = {int(r["seed"]): f(r, "auc_top_best") for r in rs if f(r, "epsilon") == e and r["arm"] == a}
                common = sorted(set(base) & set(other))
                if not common:
                    continue
                m, lo, hi = _mean_ci([other[s] - base[s] for s in common], rng)
                excl = "yes" if np.isfinite(lo) and (hi < 0 or lo > 0) else "no"
                out.append(f"| {e:g} | {a} - uniform | {m:+.4f} [{lo:+.4f}, {hi:+.4f}] | {excl} |")
        out.append("")
    return "\n".join(out)


def write_outputs(rows, out_dir) -> list:
    """Write summary.md and, when matplotlib is installed, the two PNG figures. Returns the paths."""
    paths = [os.path.join(out_dir, "summary.md")]
    with open(paths[0], "w") as fh:
        fh.write(summarize(rows) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return paths
    for ds in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == ds]
        eps = sorted({float(r["epsilon"]) for r in rs})
        fig, axes = plt.subplots(1, len(eps), figsize=(4.2 * len(eps), 3.4), squeeze=False, sharey=True)
        for ax, e in zip(axes[0], eps):
            for a in ARMS:
                sel = [r for r in rs if float(r["epsilon"]) == e and r["arm"] == a]
                if not sel:
                    continue
                curve = [np.nanmean([max(float(r[f"auc_dcr_d{d}"]), float(r[f"auc_dr_d{d}"])) for r in sel])
                         for d in range(1, 11)]
                ax.plot(range(1, 11), curve, marker="o", label=a)
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_title(f"{ds}, epsilon={e:g}")
            ax.set_xlabel("outlierness decile (oracle)")
        axes[0][0].set_ylabel("attack AUC (best of DCR, density ratio)")
        axes[0][-1].legend()
        fig.tight_layout()
        p = os.path.join(out_dir, f"auc_by_decile_{ds}.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    npz = os.path.join(out_dir, "per_record_seed0.npz")
    if os.path.exists(npz):
        d = np.load(npz)
        fig, ax = plt.subplots(figsize=(4.8, 3.6))
        ax.scatter(d["oracle"], d["epsilon_i"], s=4, alpha=0.4)
        ax.set_xlabel("oracle outlierness (kNN distance)")
        ax.set_ylabel("per-record epsilon_i (REPS)")
        fig.tight_layout()
        p = os.path.join(out_dir, "epsilon_i_vs_outlierness.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths
