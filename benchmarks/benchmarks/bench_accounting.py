"""asv benchmarks for redp.accounting: per-record ledger, subsampled RDP, calibration.

Inputs are built in setup() so only the accounting call is timed. The peer
(dp-accounting's RDP accountant) is skipped when not installed. Target from
issue 3: ``per_record_epsilon`` for 10^7 records with DP-SGD accounting under 2 s.
"""

import numpy as np

try:
    from .common import safe_import
except ImportError:  # run as a plain module
    from common import safe_import

accounting = safe_import("redp.accounting")
dp_rdp = safe_import("dp_accounting.rdp.rdp_privacy_accountant")


def _need(mod, name):
    if mod is None:
        raise NotImplementedError(f"{name} not importable")


def _weights(n, seed=0):
    # bulk near 1, a tail down to the w_min = 0.2 cap, like REPS weights
    return np.clip(np.random.default_rng(seed).beta(5.0, 1.0, size=n), 0.2, 1.0)


class PerRecord:
    """per_record_epsilon over n records, full-batch (CKS) and DP-SGD (RDP) accounting."""

    params = ([10**5, 10**7], ["full_batch", "dpsgd"])
    param_names = ["n", "mode"]
    timeout = 300

    def setup(self, n, mode):
        _need(accounting, "redp.accounting")
        self.w = _weights(n)
        self.kwargs = dict(full_batch=0.3) if mode == "full_batch" else dict(dpsgd=(0.01, 1.0, 1000))
        accounting.per_record_epsilon(self.w[:10], 1e-6, uniform_rho=0.01, **self.kwargs)  # JIT warm-up

    def time_per_record_epsilon(self, n, mode):
        accounting.per_record_epsilon(self.w, 1e-6, uniform_rho=0.01, **self.kwargs)

    def peakmem_per_record_epsilon(self, n, mode):
        accounting.per_record_epsilon(self.w, 1e-6, uniform_rho=0.01, **self.kwargs)


class SubsampledRDP:
    """One-step subsampled-Gaussian RDP over Opacus' 151 default orders (99 fractional)."""

    params = ([(0.01, 1.0), (0.04, 1.5), (0.1, 0.8), (0.001, 4.0)], ["redp", "dp_accounting"])
    param_names = ["q_sigma", "library"]

    def setup(self, q_sigma, library):
        _need(accounting, "redp.accounting")
        if library == "dp_accounting":
            _need(dp_rdp, "dp_accounting")
        self.orders = np.asarray(accounting.DEFAULT_ORDERS)
        accounting.subsampled_gaussian_rdp(0.01, 1.0, 1, self.orders)  # JIT warm-up

    def time_rdp(self, q_sigma, library):
        q, sigma = q_sigma
        if library == "redp":
            accounting.subsampled_gaussian_rdp(q, sigma, 1, self.orders)
        else:
            dp_rdp._compute_rdp_poisson_subsampled_gaussian(q, sigma, self.orders)


class Calibration:
    """Noise calibration: analytic Gaussian and DP-SGD (bisection over the RDP accountant)."""

    params = ["gaussian", "dpsgd", "epsilon_to_zcdp"]
    param_names = ["kind"]

    def setup(self, kind):
        _need(accounting, "redp.accounting")
        accounting.calibrate_dpsgd(3.0, 1e-5, 0.01, 10)  # JIT warm-up
        accounting.epsilon_to_zcdp(1.0, 1e-6)

    def time_calibrate(self, kind):
        if kind == "gaussian":
            accounting.calibrate_gaussian(1.0, 1e-6, n_measurements=50)
        elif kind == "dpsgd":
            accounting.calibrate_dpsgd(3.0, 1e-5, 0.01, 5000)
        else:
            accounting.epsilon_to_zcdp(1.0, 1e-6)
