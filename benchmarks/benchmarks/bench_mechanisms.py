"""DP noise samplers and the DP-SGD aggregation step (redp.mechanisms).

Peers: OpenDP's vector discrete Gaussian (skipped when opendp is absent), a
float64 NumPy reference and an Opacus-style float32 NumPy implementation of
clip-scale-sum. ``track_*`` benchmarks report the speed-up ratios measured in
the same run. Run one file quickly without asv:
``python benchmarks/benchmarks/bench_mechanisms.py``.
"""

import time
import warnings

import numpy as np

try:
    from .common import safe_import
except ImportError:  # run as a script
    from common import safe_import

from redp import mechanisms
from redp._reference import clip_scale_sum_reference
from redp.errors import InsecureRandomnessWarning

warnings.simplefilter("ignore", InsecureRandomnessWarning)

dp = safe_import("opendp.prelude")

N_REDP = 1_000_000
N_OPENDP = 10_000


def opendp_vector_gaussian(sigma):
    """OpenDP measurement: vector of ints -> vector of ints + discrete Gaussian(sigma)."""
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int)
    return space >> dp.m.then_gaussian(scale=float(sigma))


def opacus_style_clip_scale_sum(grads, weights, C):
    """Opacus' recipe without torch: float32 norms by einsum, clamp(C / (norm + 1e-6), 1), einsum."""
    norms = np.sqrt(np.einsum("ij,ij->i", grads, grads))
    factors = (weights * np.minimum(C / (norms + 1e-6), 1.0)).astype(grads.dtype)
    return np.einsum("i,ij->j", factors, grads)


def _median_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


class DiscreteGaussian:
    params = ([1.0, 100.0, 1e4], ["seeded", "secure"])
    param_names = ["sigma", "rng"]

    def setup(self, sigma, rng):
        self.rng = np.random.default_rng(0) if rng == "seeded" else "secure"
        mechanisms.discrete_gaussian(10, sigma, self.rng)

    def time_redp(self, sigma, rng):
        mechanisms.discrete_gaussian(N_REDP, sigma, self.rng)

    def peakmem_redp(self, sigma, rng):
        mechanisms.discrete_gaussian(N_REDP, sigma, self.rng)


class DiscreteGaussianOpenDP:
    params = [1.0, 100.0, 1e4]
    param_names = ["sigma"]
    timeout = 120

    def setup(self, sigma):
        if dp is None:
            raise NotImplementedError("opendp is not installed")
        self.meas = opendp_vector_gaussian(sigma)
        self.zeros = [0] * N_OPENDP

    def time_opendp(self, sigma):
        self.meas(self.zeros)

    def track_speedup_secure(self, sigma):
        """Throughput ratio redp (secure) / OpenDP, both per sample, same run."""
        t_odp = _median_time(lambda: self.meas(self.zeros), 3) / N_OPENDP
        t_redp = _median_time(lambda: mechanisms.discrete_gaussian(N_REDP, sigma, "secure"), 3) / N_REDP
        return t_odp / t_redp

    track_speedup_secure.unit = "x"


class GaussianNoise:
    params = ["seeded", "secure"]
    param_names = ["rng"]

    def setup(self, rng):
        self.rng = np.random.default_rng(0) if rng == "seeded" else "secure"

    def time_gaussian_noise(self, rng):
        mechanisms.gaussian_noise(N_REDP, 1.0, self.rng)


class GumbelMax:
    params = ([10, 10_000], ["seeded", "secure"])
    param_names = ["k", "rng"]

    def setup(self, k, rng):
        self.scores = np.random.default_rng(1).standard_normal(k)
        self.rng = np.random.default_rng(0) if rng == "seeded" else "secure"

    def time_gumbel_max(self, k, rng):
        mechanisms.gumbel_max(self.scores, 1.0, 1.0, self.rng)


class ClipScaleSum:
    params = ([(4096, 10_000), (64, 1_000_000)], ["float32", "float64"])
    param_names = ["shape", "dtype"]
    timeout = 300

    def setup(self, shape, dtype):
        rng = np.random.default_rng(0)
        self.g = rng.standard_normal(shape).astype(dtype)
        self.w = rng.uniform(size=shape[0])
        mechanisms.clip_scale_sum(self.g[:2], self.w[:2], 1.0)  # JIT / cache load

    def time_redp(self, shape, dtype):
        mechanisms.clip_scale_sum(self.g, self.w, 1.0)

    def time_numpy_reference(self, shape, dtype):
        clip_scale_sum_reference(self.g, self.w, 1.0)

    def time_opacus_style(self, shape, dtype):
        opacus_style_clip_scale_sum(self.g, self.w, 1.0)

    def peakmem_redp(self, shape, dtype):
        mechanisms.clip_scale_sum(self.g, self.w, 1.0)

    def track_speedup_vs_reference(self, shape, dtype):
        t_ref = _median_time(lambda: clip_scale_sum_reference(self.g, self.w, 1.0), 3)
        t_redp = _median_time(lambda: mechanisms.clip_scale_sum(self.g, self.w, 1.0), 5)
        return t_ref / t_redp

    track_speedup_vs_reference.unit = "x"

    def track_speedup_vs_opacus_style(self, shape, dtype):
        t_peer = _median_time(lambda: opacus_style_clip_scale_sum(self.g, self.w, 1.0), 5)
        t_redp = _median_time(lambda: mechanisms.clip_scale_sum(self.g, self.w, 1.0), 5)
        return t_peer / t_redp

    track_speedup_vs_opacus_style.unit = "x"


class NoisyWeightedMean:
    params = [10_000, 1_000_000]
    param_names = ["p"]

    def setup(self, p):
        rng = np.random.default_rng(0)
        self.g = rng.standard_normal((256, p)).astype(np.float32)
        self.w = rng.uniform(size=256)
        mechanisms.clip_scale_sum(self.g[:2], self.w[:2], 1.0)

    def time_noisy_weighted_mean_secure(self, p):
        mechanisms.noisy_weighted_mean(self.g, self.w, 1.0, 1.1, 256.0, "secure")


if __name__ == "__main__":  # quick run without asv: medians of 5
    for cls in [DiscreteGaussian, DiscreteGaussianOpenDP, GaussianNoise, GumbelMax, ClipScaleSum,
                NoisyWeightedMean]:
        grid = cls.params if isinstance(cls.params, tuple) else (cls.params,)
        import itertools

        for combo in itertools.product(*grid):
            bench = cls()
            try:
                bench.setup(*combo)
            except NotImplementedError as exc:
                print(f"{cls.__name__}{combo}: skipped ({exc})")
                continue
            for name in sorted(dir(bench)):
                fn = getattr(bench, name)
                if name.startswith("time_"):
                    print(f"{cls.__name__}.{name}{combo}: {_median_time(lambda: fn(*combo)) * 1e3:.2f} ms")
                elif name.startswith("track_"):
                    print(f"{cls.__name__}.{name}{combo}: {fn(*combo):.1f} x")
