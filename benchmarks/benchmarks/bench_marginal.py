"""Weighted histograms, ancestral sampling and the marginal synthesizer.

Peers: ``np.bincount(codes, weights=w)`` for the histogram kernel; a
vectorised NumPy inverse-CDF loop for ancestral sampling. Run the headline
numbers without asv (medians of repeats, re-run on a quiet machine):
``python benchmarks/benchmarks/bench_marginal.py``.
"""

import statistics
import time
import warnings

import numpy as np

try:
    from .common import safe_import
except ImportError:  # run as a script
    from common import safe_import

from redp.errors import InsecureRandomnessWarning

warnings.simplefilter("ignore", InsecureRandomnessWarning)

redp_hist = safe_import("redp._kernels.histogram")
redp_anc = safe_import("redp._kernels.ancestral")
redp_synth = safe_import("redp.synth")
redp_schema = safe_import("redp.schema")


class WeightedHistogram:
    """1-way weighted histogram of ``n`` rows (float64 weights, int32 codes)."""

    params = ([10**6, 10**7], [16, 1024], ["redp", "numpy"])
    param_names = ["n", "n_cells", "backend"]
    timeout = 120

    def setup(self, n, n_cells, backend):
        g = np.random.default_rng(0)
        self.codes = g.integers(0, n_cells, n).astype(np.int32)
        self.w = g.random(n)
        if backend == "redp":
            redp_hist.weighted_bincount(self.codes[:1000], self.w[:1000], n_cells)  # JIT warm-up

    def time_bincount(self, n, n_cells, backend):
        if backend == "redp":
            redp_hist.weighted_bincount(self.codes, self.w, n_cells)
        else:
            np.bincount(self.codes, weights=self.w, minlength=n_cells)

    def track_gbytes_per_s(self, n, n_cells, backend):

        fn = (lambda: redp_hist.weighted_bincount(self.codes, self.w, n_cells)) if backend == "redp" else (
            lambda: np.bincount(self.codes, weights=self.w, minlength=n_cells))
        best = min(_timed(fn) for _ in range(5))
        return n * 12 / best / 1e9  # 4 B code + 8 B weight per row

    track_gbytes_per_s.unit = "GB/s"


def _timed(fn):

    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class AncestralSampling:
    """Draw ``n`` rows from a 15-column tree (Adult-sized cardinalities)."""

    params = ([10**6, 10**7], ["redp", "numpy"])
    param_names = ["n", "backend"]
    timeout = 300

    def setup(self, n, backend):
        if backend == "numpy" and n > 10**6:
            raise NotImplementedError  # the NumPy loop at 10^7 takes minutes: skipped
        g = np.random.default_rng(0)
        card = np.array([14, 8, 8, 16, 16, 7, 15, 6, 5, 2, 5, 6, 14, 14, 2])
        d = card.size
        self.order = np.arange(d)
        self.parent = np.array([-1] + [int(g.integers(0, j)) for j in range(1, d)])
        blocks, self.tables = [], []
        for j in range(d):
            rows = 1 if self.parent[j] < 0 else card[self.parent[j]]
            p = g.dirichlet(np.ones(card[j]), size=rows)
            self.tables.append(p)
            c = np.cumsum(p, axis=1)
            c[:, -1] = 1.0
            blocks.append(c.ravel())
        self.offset = np.cumsum([0] + [b.size for b in blocks[:-1]])
        self.cdf = np.concatenate(blocks)
        self.card = card
        if backend == "redp":
            redp_anc.sample_tree(100, self.order, self.parent, card, self.offset, self.cdf, 0)

    def time_sample(self, n, backend):
        if backend == "redp":
            redp_anc.sample_tree(n, self.order, self.parent, self.card, self.offset, self.cdf, 1)
        else:
            _numpy_ancestral(n, self.parent, self.tables, np.random.default_rng(1))

    def peakmem_sample(self, n, backend):
        self.time_sample(n, backend)


def _numpy_ancestral(n, parent, tables, g):
    """Vectorised NumPy peer: per column, inverse CDF of the parent's row."""
    out = np.empty((n, len(tables)), dtype=np.int32)
    for j, p in enumerate(tables):
        cdf = np.cumsum(p, axis=1)
        u = g.random(n)
        rows = np.zeros(n, dtype=np.int64) if parent[j] < 0 else out[:, parent[j]]
        out[:, j] = np.minimum((cdf[rows] <= u[:, None]).sum(axis=1), p.shape[1] - 1)
    return out


class MarginalSynth:
    """Fit + sample the weighted MST synthesizer on a synthetic 15-column table."""

    params = ([10**4, 10**5, 10**6], ["gaussian", "discrete"])
    param_names = ["n", "noise"]
    timeout = 300

    def setup(self, n, noise):
        g = np.random.default_rng(0)
        cols = {}
        for j in range(10):
            cols[f"c{j}"] = redp_schema.Categorical(list(range(4 + j)))
        for j in range(5):
            cols[f"x{j}"] = redp_schema.Continuous(0.0, 1.0, bins=16)
        self.schema = redp_schema.Schema(cols)
        base = g.integers(0, 4, n)
        self.data = {f"c{j}": (base + g.integers(0, 2, n)) % (4 + j) for j in range(10)}
        self.data.update({f"x{j}": np.clip(base / 4 + g.random(n) / 4, 0, 1) for j in range(5)})
        self.w = g.uniform(0.2, 1.0, n)
        self.model = redp_synth.MarginalSynthesizer(noise=noise).fit(self.data, self.schema, self.w, rho=1.0, rng=0)

    def time_fit(self, n, noise):
        redp_synth.MarginalSynthesizer(noise=noise).fit(self.data, self.schema, self.w, rho=1.0, rng=0)

    def time_sample(self, n, noise):
        self.model.sample(n, rng=1)

    def peakmem_fit(self, n, noise):
        redp_synth.MarginalSynthesizer(noise=noise).fit(self.data, self.schema, self.w, rho=1.0, rng=0)


def _median(fn, repeat=7):
    fn()
    return statistics.median(_timed(fn) for _ in range(repeat))


if __name__ == "__main__":
    import numba

    threads = numba.get_num_threads()
    print(f"numba threads: {threads} (layer {numba.config.THREADING_LAYER}); medians of repeats, wall clock")
    h = WeightedHistogram()
    for n_cells in (16, 1024):
        h.setup(10**7, n_cells, "redp")
        t_n = _median(lambda: np.bincount(h.codes, weights=h.w, minlength=n_cells))
        for th in sorted({1, threads}):
            numba.set_num_threads(th)
            t_r = _median(lambda: redp_hist.weighted_bincount(h.codes, h.w, n_cells))
            print(f"weighted histogram 1e7 rows, {n_cells:5d} cells, {th} thread(s): redp {t_r * 1e3:7.1f} ms "
                  f"({1.2e8 / t_r / 1e9:.1f} GB/s), np.bincount {t_n * 1e3:7.1f} ms, speed-up {t_n / t_r:.1f}x")
        numba.set_num_threads(threads)
    a = AncestralSampling()
    a.setup(10**6, "numpy")
    t_np = _median(lambda: a.time_sample(10**6, "numpy"), repeat=3)
    a.setup(10**7, "redp")
    for th in sorted({1, threads}):
        numba.set_num_threads(th)
        t_r7 = _median(lambda: a.time_sample(10**7, "redp"), repeat=3)
        t_r6 = _median(lambda: a.time_sample(10**6, "redp"), repeat=5)
        print(f"ancestral sampling 15 cols, {th} thread(s): redp 1e7 rows {t_r7:.3f} s, 1e6 rows {t_r6 * 1e3:.1f} ms; "
              f"NumPy peer 1e6 rows {t_np * 1e3:.1f} ms (speed-up {t_np / t_r6:.1f}x)")
    numba.set_num_threads(threads)
    m = MarginalSynth()
    for n in (10**5, 10**6):
        m.setup(n, "gaussian")
        tf = _median(lambda: m.time_fit(n, "gaussian"), repeat=3)
        ts = _median(lambda: m.time_sample(n, "gaussian"), repeat=3)
        print(f"MarginalSynthesizer 15 cols, n={n:>8d}: fit {tf:.3f} s, sample {ts:.3f} s")
