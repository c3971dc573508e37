"""End-to-end REPS (marginal synthesizer, reference-kNN scorer): fit + sample, time and peak memory.

The table is the scale benchmark's (``benchmarks/scale_10m.py``: 10 continuous
+ 10 categorical columns with a shared latent factor and 1% outliers) at
10^5 and 10^6 rows, in memory (a 2-D array) and out of core (a ``.npy`` file
read in chunks). ``peakmem_`` measures the whole process's peak RSS for the
call, so its numbers include the interpreter and imports (~0.1 GiB).

    cd benchmarks && asv run --python=same --quick --bench bench_pipeline
"""

import os
import sys
import tempfile
import warnings

import numpy as np

try:
    from .common import safe_import
except ImportError:  # run as a script
    from common import safe_import

redp = safe_import("redp")


def _scale_module():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    import scale_10m

    return scale_10m


class REPSEndToEnd:
    """``REPS(...).fit(data)`` then ``sample(n)``, n rows in and out."""

    params = ([10**5, 10**6], ["memory", "npy"])
    param_names = ["n", "input"]
    timeout = 600
    number = 1
    repeat = 3  # asv's --quick runs one

    def setup(self, n, input):
        from redp.errors import InsecureRandomnessWarning

        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        scale = _scale_module()
        self.schema = scale.make_schema()
        self.dir = tempfile.mkdtemp(prefix="redp-asv-")
        self.path = os.path.join(self.dir, f"t{n}.npy")
        scale.generate(self.path, n)
        self.data = np.load(self.path) if input == "memory" else self.path
        self.n = n
        redp.REPS(epsilon=1.0, delta=1e-9, schema=self.schema, rng=0, n_reference=500).fit(
            np.load(self.path, mmap_mode="r")[:2000].copy()).sample(100)  # JIT warm-up

    def teardown(self, n, input):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self):
        model = redp.REPS(epsilon=1.0, delta=1e-9, schema=self.schema, rng=0).fit(self.data)
        return model.sample(self.n)

    def time_fit_sample(self, n, input):
        self._run()

    def peakmem_fit_sample(self, n, input):
        self._run()


class MarginalStatisticsPass:
    """Sufficient statistics of one chunk: 20 columns, all 190 candidate pairs."""

    params = [[10**5, 10**6]]
    param_names = ["n"]

    def setup(self, n):
        from redp.synth.marginal import MarginalStatistics

        g = np.random.default_rng(0)
        self.card = [16] * 10 + [2, 3, 4, 5, 6, 8, 10, 12, 16, 20]
        self.codes = np.stack([g.integers(0, c, n).astype(np.int32) for c in self.card])
        self.units = np.floor(g.uniform(0.2, 1.0, n) * 2**26)
        self.cls = MarginalStatistics
        self.cls.from_codes(self.codes[:, :100], self.card, self.units[:100], "gaussian")

    def time_from_codes(self, n):
        self.cls.from_codes(self.codes, self.card, self.units, "gaussian")
