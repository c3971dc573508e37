"""asv benchmarks for redp.audit: attacks, metrics, bounds, utility.

Inputs are built in setup() so only the call is timed. Peers (scikit-learn,
SciPy) are skipped when not installed. ``track_*`` record attack AUCs on
hand-made leaky and non-leaky synthetic tables.

Run directly for a quick side-by-side table (medians of repeats)::

    python benchmarks/benchmarks/bench_audit.py
"""

import time

import numpy as np

try:
    from .common import safe_import
except ImportError:  # run as a plain module
    from common import safe_import

audit = safe_import("redp.audit")
sk_metrics = safe_import("sklearn.metrics")
sk_neighbors = safe_import("sklearn.neighbors")
scipy_stats = safe_import("scipy.stats")


def _need(mod, name):
    if mod is None:
        raise NotImplementedError(f"{name} not importable")


def _split(n, d, seed=0):
    g = np.random.default_rng(seed)
    pop = g.normal(size=(3 * n, d)).astype(np.float32)
    members, non_members, reference = pop[:n], pop[n : 2 * n], pop[2 * n :]
    return g, members, non_members, reference


class Attacks:
    """dcr / density_ratio: n targets against n synthetic (and n reference) rows, d = 16."""

    params = ([10_000, 100_000], ["dcr", "density_ratio", "dcr_sklearn"])
    param_names = ["n", "attack"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 600

    def setup(self, n, attack):
        _need(audit, "redp.audit")
        if attack == "dcr_sklearn":
            _need(sk_neighbors, "sklearn.neighbors")
        g, members, non_members, reference = _split(n // 2, 16)
        self.targets = np.vstack([members, non_members])
        self.synthetic = g.normal(size=(n, 16)).astype(np.float32)
        self.reference = np.vstack([reference, reference])[:n]

    def time_attack(self, n, attack):
        if attack == "dcr":
            audit.dcr(self.targets, self.synthetic)
        elif attack == "density_ratio":
            audit.density_ratio(self.targets, self.synthetic, self.reference, k=5)
        else:  # peer: the same DCR via scikit-learn
            nn = sk_neighbors.NearestNeighbors(n_neighbors=1).fit(self.synthetic)
            -nn.kneighbors(self.targets)[0][:, 0]

    def peakmem_attack(self, n, attack):
        self.time_attack(n, attack)


class AttackAUC:
    """Attack success on hand-made cases (tracked values, not times)."""

    def setup(self):
        _need(audit, "redp.audit")
        g, members, non_members, reference = _split(2000, 6)
        self.targets = np.vstack([members, non_members])
        self.labels = np.repeat([1, 0], 2000)
        self.reference = reference
        self.copy = members + g.normal(scale=1e-3, size=members.shape).astype(np.float32)
        self.overfit = np.repeat(members, 5, axis=0) + g.normal(scale=0.05, size=(10_000, 6)).astype(np.float32)
        self.independent = g.normal(size=(2000, 6)).astype(np.float32)

    def track_dcr_auc_copy(self):
        return audit.roc_auc(audit.dcr(self.targets, self.copy), self.labels)

    def track_dcr_auc_independent(self):
        return audit.roc_auc(audit.dcr(self.targets, self.independent), self.labels)

    def track_density_ratio_auc_overfit(self):
        return audit.roc_auc(audit.density_ratio(self.targets, self.overfit, self.reference, k=5), self.labels)

    def track_density_ratio_auc_independent(self):
        return audit.roc_auc(audit.density_ratio(self.targets, self.independent, self.reference, k=5), self.labels)


class Metrics:
    """ROC metrics (redp vs scikit-learn) and the decile report with bootstrap."""

    params = ([10_000, 1_000_000], ["roc_auc", "roc_auc_sklearn", "tpr_at_fpr", "attack_report"])
    param_names = ["n", "metric"]
    number = 1
    repeat = (1, 5, 30.0)

    def setup(self, n, metric):
        _need(audit, "redp.audit")
        if metric == "roc_auc_sklearn":
            _need(sk_metrics, "sklearn.metrics")
        if metric == "attack_report" and n > 10_000:
            raise NotImplementedError("attack_report is benchmarked at the experiment's size only")
        g = np.random.default_rng(0)
        self.y = np.repeat([1, 0], n // 2)
        self.s = g.normal(size=n) + 0.5 * self.y
        self.o = g.random(n)

    def time_metric(self, n, metric):
        if metric == "roc_auc":
            audit.roc_auc(self.s, self.y)
        elif metric == "roc_auc_sklearn":
            sk_metrics.roc_auc_score(self.y, self.s)
        elif metric == "tpr_at_fpr":
            audit.tpr_at_fpr(self.s, self.y, (0.01, 0.001))
        else:
            audit.attack_report(self.s, self.y, self.o, n_bootstrap=200, rng=0)


class Bounds:
    """Clopper-Pearson (own beta quantile) vs scipy, and the epsilon lower bound."""

    params = (["clopper_pearson", "clopper_pearson_scipy", "epsilon_lower_bound"],)
    param_names = ["fn"]

    def setup(self, fn):
        _need(audit, "redp.audit")
        if fn == "clopper_pearson_scipy":
            _need(scipy_stats, "scipy.stats")

    def time_bound(self, fn):
        if fn == "clopper_pearson":
            audit.clopper_pearson(1234, 1_000_000)
        elif fn == "clopper_pearson_scipy":
            scipy_stats.beta.ppf([0.025, 0.975], [1234, 1235], [1_000_000 - 1234 + 1, 1_000_000 - 1234])
        else:
            audit.epsilon_lower_bound(900_000, 100_000, 1_000, 999_000, delta=1e-5)


class Utility:
    """Marginal TVD, correlation difference and TSTR (NumPy fallback vs scikit-learn)."""

    params = ([100_000, 1_000_000], ["tvd_1way", "tvd_2way", "correlation_difference", "tstr_numpy", "tstr_sklearn"])
    param_names = ["n", "fn"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 600

    def setup(self, n, fn):
        _need(audit, "redp.audit")
        if fn.startswith("tstr") and n > 100_000:
            raise NotImplementedError("TSTR is benchmarked at 1e5 rows")
        if fn == "tstr_sklearn":
            _need(safe_import("sklearn.linear_model"), "sklearn")
        g = np.random.default_rng(0)
        self.card = [8] * 12
        self.real = g.integers(0, 8, size=(n, 12), dtype=np.int32)
        self.syn = g.integers(0, 8, size=(n, 12), dtype=np.int32)
        self.Xr = g.normal(size=(n, 20)).astype(np.float32)
        self.Xs = g.normal(size=(n, 20)).astype(np.float32)
        self.yr = (self.Xr[:, 0] > 0).astype(int)
        self.ys = (self.Xs[:, 0] + 0.5 * self.Xs[:, 1] > 0).astype(int)

    def time_utility(self, n, fn):
        if fn == "tvd_1way":
            audit.tvd_1way(self.real, self.syn, self.card)
        elif fn == "tvd_2way":
            audit.tvd_2way(self.real, self.syn, self.card)
        elif fn == "correlation_difference":
            audit.correlation_difference(self.Xr, self.Xs)
        else:
            audit.tstr(self.Xs, self.ys, self.Xr, self.yr, backend=fn.split("_")[1])


def _main(repeats=5):
    """Print medians for every benchmark (a quick, dependency-free runner)."""
    import itertools

    for cls in (Attacks, Metrics, Bounds, Utility):
        params = getattr(cls, "params", ((),))
        if params and not isinstance(params[0], (list, tuple)):
            params = (params,)
        for combo in itertools.product(*params):
            bench = cls()
            try:
                bench.setup(*combo)
            except NotImplementedError as exc:
                print(f"{cls.__name__}{combo}: skipped ({exc})")
                continue
            fn = next(getattr(bench, m) for m in dir(bench) if m.startswith("time_"))
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(*combo)
                times.append(time.perf_counter() - t0)
            print(f"{cls.__name__}{combo}: median {np.median(times) * 1e3:.2f} ms (min {min(times) * 1e3:.2f})")
    bench = AttackAUC()
    bench.setup()
    for m in sorted(m for m in dir(bench) if m.startswith("track_")):
        print(f"AttackAUC.{m}: {getattr(bench, m)():.4f}")


if __name__ == "__main__":
    _main()
