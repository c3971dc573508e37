"""Weighted DP-SGD: per-example mixture gradients, the step, batch sampling, accounting.

Run one file quickly without asv:  ``python benchmarks/benchmarks/bench_dpsgd.py``
(prints medians of several repeats for every benchmark below).
"""

import warnings

import numpy as np

try:
    from .common import safe_import
except ImportError:  # run as a script
    from common import safe_import

from redp._kernels.mixture import mixture_nll_grad, n_parameters
from redp.errors import InsecureRandomnessWarning
from redp.synth.dpsgd import WeightedDPSGD, individual_sampling_epsilon
from redp.synth.mixture import MixtureSynthesizer

warnings.simplefilter("ignore", InsecureRandomnessWarning)

# Adult-like layout: 9 categorical columns (103 levels in all) and 6 continuous.
ADULT_CARDS = np.array([9, 16, 7, 15, 6, 5, 2, 42, 1], dtype=np.int64)


def _encoded(n, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, c, n) for c in ADULT_CARDS], 1).astype(np.int64)
    cont = rng.random((n, 6))
    return codes, cont


def _numpy_nll_grad(theta, codes, cont, K, cards):
    """Vectorised NumPy per-example gradient (the peer the Numba kernel must beat)."""
    B, D = cont.shape
    a = theta[:K]
    pos = K
    blocks = []
    for c in cards:
        blocks.append(theta[pos:pos + K * c].reshape(K, c))
        pos += K * c
    mu = theta[pos:pos + K * D].reshape(K, D)
    ls = theta[pos + K * D:].reshape(K, D)

    def lsm(v):
        m = v.max(-1, keepdims=True)
        return v - m - np.log(np.exp(v - m).sum(-1, keepdims=True))

    ell = np.broadcast_to(lsm(a), (B, K)).copy()
    logps = [lsm(L) for L in blocks]
    for j, lp in enumerate(logps):
        ell += lp[:, codes[:, j]].T
    var = np.exp(2 * ls)
    z = cont[:, None, :] - mu[None]
    ell += (-0.5 * np.log(2 * np.pi) - ls[None] - 0.5 * z * z / var[None]).sum(-1)
    r = np.exp(lsm(ell))
    out = [np.exp(lsm(a))[None] - r]
    for j, lp in enumerate(logps):
        p = np.exp(lp)
        g = r[:, :, None] * p[None]
        g[np.arange(B)[:, None], np.arange(K)[None], codes[:, j][:, None]] -= r
        out.append(g.reshape(B, -1))
    out.append((-r[:, :, None] * z / var[None]).reshape(B, -1))
    out.append((r[:, :, None] * (1 - z * z / var[None])).reshape(B, -1))
    return np.concatenate(out, 1)


class MixtureGradient:
    """Per-example NLL gradients of a K-component mixture on an Adult-like layout."""

    params = ([1_000, 10_000], ["numba", "numpy"])
    param_names = ["batch", "backend"]

    def setup(self, batch, backend):
        self.K = 10
        self.codes, self.cont = _encoded(batch)
        self.offsets = np.concatenate([[0], np.cumsum(ADULT_CARDS)]).astype(np.int64)
        self.theta = np.random.default_rng(1).normal(size=n_parameters(self.K, ADULT_CARDS, 6)) * 0.3
        mixture_nll_grad(self.theta, self.codes[:2], self.offsets, self.cont[:2], self.K)  # compile

    def time_grad(self, batch, backend):
        if backend == "numba":
            mixture_nll_grad(self.theta, self.codes, self.offsets, self.cont, self.K)
        else:
            _numpy_nll_grad(self.theta, self.codes, self.cont, self.K, ADULT_CARDS)

    def peakmem_grad(self, batch, backend):
        self.time_grad(batch, backend)


class DPSGDStep:
    """One WeightedDPSGD.step (clip, weight, sum, noise, divide) on a (B, p) matrix."""

    params = ([256, 4096], [1_000, 100_000], ["seeded", "secure"])
    param_names = ["batch", "p", "rng"]

    def setup(self, batch, p, rng):
        if batch * p > 5e7:
            raise NotImplementedError  # asv skips
        g = np.random.default_rng(0).standard_normal((batch, p))
        self.g = g
        self.w = np.random.default_rng(1).uniform(0.2, 1.0, batch)
        self.opt = WeightedDPSGD(1.0, 1.0, 0.01, batch * 100, rng=0 if rng == "seeded" else "secure")
        self.opt.step(g[:2], self.w[:2])

    def time_step(self, batch, p, rng):
        self.opt.step(self.g, self.w)


class TorchStepPeer:
    """Opacus-style clip-and-noise step in PyTorch (skipped when torch is absent)."""

    params = ([256, 4096], [1_000, 100_000])
    param_names = ["batch", "p"]

    def setup(self, batch, p):
        self.torch = safe_import("torch")
        if self.torch is None or batch * p > 5e7:
            raise NotImplementedError
        self.g = self.torch.randn(batch, p, dtype=self.torch.float64)
        self.w = self.torch.rand(batch, dtype=self.torch.float64) * 0.8 + 0.2

    def time_step(self, batch, p):
        t = self.torch
        norms = t.linalg.vector_norm(self.g, dim=1)
        factor = (1.0 / (norms + 1e-6)).clamp(max=1.0) * self.w
        total = t.einsum("i,ij->j", factor, self.g)
        (total + t.normal(0.0, 1.0, size=total.shape, dtype=t.float64)) / (batch * 100)


class BatchSampling:
    """Poisson sampling of one batch from n records (uniform and individualised rates)."""

    params = ([100_000, 10_000_000], ["scale", "sample"])
    param_names = ["n", "influence"]

    def setup(self, n, influence):
        self.w = np.random.default_rng(0).uniform(0.2, 1.0, n)
        self.opt = WeightedDPSGD(1.0, 1.0, 0.001, n, influence=influence, rng=0)

    def time_sample_batch(self, n, influence):
        self.opt.sample_batch(n, self.w)


class PerRecordAccounting:
    """Per-record epsilon for the individualised-sampling variant (bucketed weights)."""

    params = [[10_000, 10_000_000]]
    param_names = ["n"]

    def setup(self, n):
        self.w = np.random.default_rng(0).uniform(0.2, 1.0, n)

    def time_individual_sampling_epsilon(self, n):
        individual_sampling_epsilon(self.w, 1e-6, sample_rate=0.01, noise_multiplier=1.0, steps=1000)


class MixtureFit:
    """A whole DP-SGD fit of the mixture synthesizer (1 epoch) and its sampler."""

    params = [[10_000, 100_000]]
    param_names = ["n"]
    timeout = 300

    def setup(self, n):
        self.codes, self.cont = _encoded(n)
        self.model = MixtureSynthesizer(n_components=10, epochs=1, sample_rate=0.01)
        self.model.fit_arrays(self.codes[:500], ADULT_CARDS, self.cont[:500], epsilon=1.0,
                              delta=1e-6, rng=0)  # compile

    def time_fit(self, n):
        self.model.fit_arrays(self.codes, ADULT_CARDS, self.cont, epsilon=1.0, delta=1e-6, rng=0)

    def time_sample_1e6(self, n):
        self.model.sample_arrays(1_000_000, rng=0)

    def track_recovered_mean_error(self, n):
        """Mean abs error of the synthetic continuous means (uniform data: 0.5)."""
        self.model.fit_arrays(self.codes, ADULT_CARDS, self.cont, epsilon=1.0, delta=1e-6, rng=0)
        _, x = self.model.sample_arrays(100_000, rng=1)
        return float(np.abs(x.mean(0) - self.cont.mean(0)).mean())


if __name__ == "__main__":
    import itertools
    import time

    def _median(f, repeats=5):
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    for cls in (MixtureGradient, DPSGDStep, TorchStepPeer, BatchSampling, PerRecordAccounting, MixtureFit):
        params = cls.params if isinstance(cls.params[0], list) else [cls.params]
        for combo in itertools.product(*params):
            bench = cls()
            try:
                bench.setup(*combo)
            except NotImplementedError:
                continue
            for name in dir(bench):
                if name.startswith("time_"):
                    reps = 3 if cls is MixtureFit else 7
                    t = _median(lambda: getattr(bench, name)(*combo), reps)
                    print(f"{cls.__name__}.{name}{combo}: {t * 1e3:9.2f} ms (median of {reps})")
