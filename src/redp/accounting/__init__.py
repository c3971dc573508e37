"""Privacy accounting: what every redp mechanism spends, and what each record pays.

redp accounts in zCDP (rho) wherever the mechanisms allow, because Gaussian
mechanisms compose by adding rho, and in Renyi DP for Poisson-subsampled
DP-SGD; the two meet as RDP curves (``rho`` is the curve ``alpha * rho``).
Conversions to (epsilon, delta) are the tight ones (Canonne-Kamath-Steinke for
zCDP, the improved RDP conversion, the analytic Gaussian for a single
Gaussian). Every number is computed so that rounding works against us:
calibrators return the upper end of their bracket, budget splits round down,
conversions round up, and numerical trouble raises
:class:`~redp.errors.NumericalPrecisionError` instead of returning a small
epsilon.

Modules: :mod:`~redp.accounting.gaussian` (one Gaussian: zCDP, RDP, GDP,
analytic Gaussian), :mod:`~redp.accounting.zcdp` (zCDP <-> (eps, delta)),
:mod:`~redp.accounting.rdp` (subsampled Gaussian RDP, RDP -> (eps, delta)),
:mod:`~redp.accounting.calibration` (noise for a target),
:mod:`~redp.accounting.budget` (``Budget``, ``PrivacyLedger``),
:mod:`~redp.accounting.per_record` (per-record bounds for weighted mechanisms).

Examples
--------
The whole flow for a weighted synthesizer: a budget, split between scoring and
synthesis; noise calibrated to each part; a ledger that refuses overspending;
the per-record bounds the curator sees.

>>> import numpy as np
>>> from redp.accounting import Budget, calibrate_gaussian_zcdp, per_record_epsilon
>>> budget = Budget(epsilon=1.0, delta=1e-6)
>>> stage1, stage2 = budget.split([0.1, 0.9])
>>> ledger = budget.ledger()
>>> sigma1 = calibrate_gaussian_zcdp(stage1)
>>> _ = ledger.spend(sigma=sigma1, sensitivity=1.0, name="scores")
>>> sigma2 = calibrate_gaussian_zcdp(stage2, n_measurements=10)
>>> for j in range(10):
...     _ = ledger.spend(sigma=sigma2, sensitivity=1.0, name=f"marginal {j}")
>>> ledger.epsilon() <= 1.0
True
>>> w = np.array([1.0, 0.5, 0.2])
>>> eps_i = per_record_epsilon(w, 1e-6, full_batch=stage2, uniform_rho=stage1)
>>> bool(eps_i[0] <= 1.0) and bool(eps_i[2] < eps_i[0])
True
"""

from .budget import Budget, LedgerEntry, PrivacyLedger
from .calibration import calibrate_dpsgd, calibrate_gaussian, calibrate_gaussian_zcdp
from .gaussian import delta_for_gaussian, gaussian_gdp_mu, gaussian_rdp, gaussian_sigma, gaussian_zcdp
from .per_record import per_record_epsilon, per_record_rho, quantize_weights
from .rdp import DEFAULT_ORDERS, rdp_to_epsilon, subsampled_gaussian_rdp
from .zcdp import epsilon_to_zcdp, zcdp_to_delta, zcdp_to_epsilon, zcdp_to_epsilon_bun_steinke

__all__ = [
    "DEFAULT_ORDERS",
    "Budget",
    "LedgerEntry",
    "PrivacyLedger",
    "calibrate_dpsgd",
    "calibrate_gaussian",
    "calibrate_gaussian_zcdp",
    "delta_for_gaussian",
    "epsilon_to_zcdp",
    "gaussian_gdp_mu",
    "gaussian_rdp",
    "gaussian_sigma",
    "gaussian_zcdp",
    "per_record_epsilon",
    "per_record_rho",
    "quantize_weights",
    "rdp_to_epsilon",
    "subsampled_gaussian_rdp",
    "zcdp_to_delta",
    "zcdp_to_epsilon",
    "zcdp_to_epsilon_bun_steinke",
]
