"""The ``redp`` command line: demo, synth, score, schema, experiment.

Exit status is 0 on success and non-zero on any error, with a one-line
message on stderr naming the column, row or value at fault (``2`` for bad
input or arguments, ``1`` for anything unexpected).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

__all__ = ["main"]


class _Progress:
    """A minimal stderr progress line (no dependency); silent when not a terminal."""

    def __init__(self, total: int, label: str, enabled: bool | None = None):
        self.total, self.label, self.done, self.t0 = total, label, 0, time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def step(self, what: str = ""):
        self.done += 1
        if self.enabled:
            width = 24
            filled = int(width * self.done / max(self.total, 1))
            sys.stderr.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{time.perf_counter() - self.t0:5.1f}s {what:<30}"
            )
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _load_schema(path):
    from .schema import Schema

    with open(path) as f:
        return Schema.from_json(f.read())


def _cmd_demo(args) -> int:
    from .audit import dcr, roc_auc
    from .audit.experiment import SIMULATED
    from .datasets import simulate
    from .pipeline import REPS
    from .scoring import knn_outlierness

    t0 = time.perf_counter()
    n = args.n
    table, schema, is_outlier = simulate(2 * n, rng=args.seed, **SIMULATED)
    split = np.random.default_rng(args.seed + 1).permutation(2 * n)
    members, nonmembers = split[:n], split[n:]
    member_table = {c: v[members] for c, v in table.items()}
    enc = schema.encode_distance(schema.validate(table)[0])
    oracle = knn_outlierness(enc, k=5)
    targets = np.concatenate([members, nonmembers])
    labels = np.r_[np.ones(n), np.zeros(n)]
    top = oracle[targets] >= np.quantile(oracle, 0.9)
    print(f"redp demo: {2 * n} simulated records (2% injected outliers), {n} members, "
          f"epsilon={args.epsilon}, delta={args.delta}")
    print("The attack is distance to the closest synthetic record (DCR), scored by outlierness decile of a "
          "non-private oracle; AUC 0.5 means the attack learns nothing.")
    progress = _Progress(2, "fitting")
    rows = []
    for arm in ("uniform", "inverse"):
        model = REPS(epsilon=args.epsilon, delta=args.delta, schema=schema, weighting=arm, rng=args.seed + 2)
        t = time.perf_counter()
        model.fit(member_table)
        synthetic = model.sample(n)
        elapsed = time.perf_counter() - t
        progress.step(arm)
        S = schema.encode_distance(schema.validate(synthetic)[0])
        score = dcr(enc[targets], S)
        report = model.privacy_report()
        rows.append((("REPS" if arm == "inverse" else "uniform"), elapsed, roc_auc(score, labels),
                     roc_auc(score[top], labels[top]), report))
    print()
    print("| arm     | fit+sample s | DCR AUC all | DCR AUC top decile | eps_i min | eps_i max |")
    print("|---------|--------------|-------------|--------------------|-----------|-----------|")
    for name, el, auc, auc_top, rep in rows:
        print(f"| {name:<7} | {el:12.2f} | {auc:11.3f} | {auc_top:18.3f} | "
              f"{rep.per_record_epsilon.min():9.3f} | {rep.per_record_epsilon.max():9.3f} |")
    print()
    print(rows[1][4].summary())
    better = rows[1][3] < rows[0][3]
    print()
    print(("REPS lowered" if better else "REPS did NOT lower") +
          f" the top-decile DCR attack AUC ({rows[1][3]:.3f} vs {rows[0][3]:.3f} for uniform) in this run.")
    print(f"total {time.perf_counter() - t0:.1f}s")
    return 0


def _cmd_synth(args) -> int:
    from .io import atomic_write_text, read_csv, write_csv
    from .pipeline import REPS

    schema = _load_schema(args.schema)
    table = read_csv(args.input, schema)
    model = REPS(epsilon=args.epsilon, delta=args.delta, schema=schema, synthesizer=args.synthesizer,
                 w_min=args.w_min, weighting=args.weighting, rng=args.seed)
    model.fit(table)
    n = args.n if args.n is not None else len(next(iter(table.values())))
    synthetic = model.sample(n)
    report = model.privacy_report()
    if args.report:  # the report first: a failure then leaves no synthetic file without its report
        atomic_write_text(args.report, json.dumps(report.to_dict(per_record=args.per_record), indent=2))
    write_csv(args.output, synthetic, schema.names)
    print(report.summary(), file=sys.stderr)
    return 0


def _cmd_score(args) -> int:
    from .io import atomic_write_text, read_csv
    from .pipeline import REPS

    schema = _load_schema(args.schema)
    table = read_csv(args.input, schema)
    model = REPS(epsilon=args.epsilon, delta=args.delta, schema=schema, score_fraction=0.5, rng=args.seed)
    from .accounting import Budget

    rho = Budget(epsilon=args.epsilon, delta=args.delta).rho
    scorer = model._make_scorer()
    scorer.fit(table, rho=rho, rng=model._streams()[0])
    scores = scorer.score(table)
    atomic_write_text(args.output, "score\n" + "\n".join(repr(float(s)) for s in scores) + "\n")
    print(f"scored {len(scores)} records with ({args.epsilon}, {args.delta})-DP stage-1 scorer", file=sys.stderr)
    return 0


def _cmd_schema(args) -> int:
    from .io import atomic_write_text
    from .schema import propose_schema

    import csv

    with open(args.input, newline="") as f:
        reader = csv.reader(f, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        rows = [r for r in reader if r]
    table = {}
    for j, name in enumerate(header):
        raw = [r[j].strip() for r in rows]
        try:
            table[name] = np.array([float(v) for v in raw])
        except ValueError:
            table[name] = np.array(raw, dtype=object)
    schema = propose_schema(table, bins=args.bins)
    atomic_write_text(args.output, schema.to_json())
    print("WARNING: bounds and levels in the proposed schema were read off the private data and are NOT "
          "private. Replace them with public knowledge before any release.", file=sys.stderr)
    return 0


def _cmd_experiment(args) -> int:
    from .audit.experiment import run_experiment, write_outputs

    rows = run_experiment(args.dataset, epsilons=args.epsilon, seeds=args.seeds, arms=args.arms, out_dir=args.out,
                          data_path=args.data, n=args.n, delta=args.delta, synthesizer=args.synthesizer,
                          progress=not args.quiet)
    paths = write_outputs(rows, args.out)
    with open(paths[0]) as f:
        print(f.read())
    print("wrote " + ", ".join(paths + [f"{args.out}/runs.csv"]), file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="redp", description="Risk-equalized differentially private synthetic data.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="simulate a table with outliers; uniform vs REPS side by side")
    d.add_argument("--n", type=int, default=5000, help="members (and as many non-members)")
    d.add_argument("--epsilon", type=float, default=30.0,
                   help="a deliberately large budget, so that the uniform synthesizer leaks enough to measure")
    d.add_argument("--delta", type=float, default=1e-6)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_demo)

    s = sub.add_parser("synth", help="fit REPS on a CSV and write synthetic records")
    s.add_argument("input")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--schema", required=True, help="JSON schema of PUBLIC bounds and levels")
    s.add_argument("--epsilon", type=float, required=True)
    s.add_argument("--delta", type=float, required=True)
    s.add_argument("--synthesizer", choices=["marginal", "mixture"], default="marginal")
    s.add_argument("--weighting", default="inverse")
    s.add_argument("--w-min", type=float, default=0.2)
    s.add_argument("--n", type=int, default=None, help="synthetic rows (default: as many as the input)")
    s.add_argument("--seed", type=int, default=None, help="reproducible noise (NOT for production releases)")
    s.add_argument("--report", help="write the privacy report as JSON")
    s.add_argument("--per-record", action="store_true", help="include curator-only per-record values in the report")
    s.set_defaults(func=_cmd_synth)

    c = sub.add_parser("score", help="private stage-1 risk scores for each record")
    c.add_argument("input")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--schema", required=True)
    c.add_argument("--epsilon", type=float, required=True)
    c.add_argument("--delta", type=float, default=1e-6)
    c.add_argument("--seed", type=int, default=None)
    c.set_defaults(func=_cmd_score)

    h = sub.add_parser("schema", help="propose a schema from a CSV (NOT private: review it)")
    h.add_argument("input")
    h.add_argument("-o", "--output", required=True)
    h.add_argument("--bins", type=int, default=16)
    h.set_defaults(func=_cmd_schema)
    e = sub.add_parser("experiment", help="uniform vs REPS vs random: attacks by outlierness decile (resumable)")
    e.add_argument("--dataset", choices=["simulated", "breast-cancer", "adult", "german"], default="simulated")
    e.add_argument("--data", help="path of the Adult CSV / German Credit file (or their folder)")
    e.add_argument("--epsilon", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    e.add_argument("--delta", type=float, default=1e-6)
    e.add_argument("--seeds", type=int, default=10)
    e.add_argument("--arms", nargs="+", default=["uniform", "reps", "random"], choices=["uniform", "reps", "random"])
    e.add_argument("--synthesizer", choices=["marginal", "mixture"], default="marginal")
    e.add_argument("--n", type=int, default=None, help="simulated population size (default 10,000)")
    e.add_argument("--out", required=True, help="output folder (runs.csv is appended to: re-running resumes)")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_cmd_experiment)
    return p


def _check_writable(*paths) -> None:
    """Refuse early (before any budget is spent) when an output folder is missing or read-only."""
    import os

    for path in paths:
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"The output folder {folder!r} of {path!r} does not exist. Create it first.")
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"The output folder {folder!r} of {path!r} is not writable.")


def main(argv=None) -> int:
    """Entry point of the ``redp`` command (returns the exit status; 2 for bad input or arguments)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message on stderr
        return exc.code if isinstance(exc.code, int) else 2
    try:
        _check_writable(getattr(args, "output", None), getattr(args, "report", None))
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"redp {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
