"""redp.accounting.calibration: never overshoot, within 0.1% of the smallest noise."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redp.accounting import (
    DEFAULT_ORDERS,
    Budget,
    calibrate_dpsgd,
    calibrate_gaussian,
    calibrate_gaussian_zcdp,
    delta_for_gaussian,
    gaussian_sigma,
    gaussian_zcdp,
    rdp_to_epsilon,
    subsampled_gaussian_rdp,
)
from redp.errors import PrivacyParameterError


def _dpsgd_eps(q, sigma, steps, delta, orders=DEFAULT_ORDERS):
    return rdp_to_epsilon(orders, subsampled_gaussian_rdp(q, sigma, steps, orders), delta)[0]


def test_single_gaussian_is_the_analytic_gaussian():
    assert calibrate_gaussian(1.0, 1e-5) == gaussian_sigma(1.0, 1e-5)
    assert calibrate_gaussian(1.0, 1e-5) == pytest.approx(3.7306316348, abs=1e-10)


@pytest.mark.parametrize("k", [2, 7, 100])
def test_k_measurements_compose_like_one_gaussian(k):
    sigma = calibrate_gaussian(0.5, 1e-7, n_measurements=k, sensitivity=2.0)
    assert sigma / calibrate_gaussian(0.5, 1e-7, sensitivity=2.0) == pytest.approx(math.sqrt(k), rel=1e-9)
    assert delta_for_gaussian(0.5, sigma, 2.0 * math.sqrt(k)) <= 1e-7


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    eps=st.floats(0.05, 10.0),
    log10_delta=st.floats(-12.0, -2.0),
    k=st.integers(1, 1000),
    sensitivity=st.floats(0.1, 10.0),
)
def test_gaussian_never_overshoots_and_is_tight(eps, log10_delta, k, sensitivity):
    delta = 10.0**log10_delta
    sigma = calibrate_gaussian(eps, delta, n_measurements=k, sensitivity=sensitivity)
    assert delta_for_gaussian(eps, sigma, sensitivity * math.sqrt(k)) <= delta
    assert delta_for_gaussian(eps, sigma * (1 - 1e-3), sensitivity * math.sqrt(k)) > delta
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    mu = mp.mpf(sensitivity) * mp.sqrt(k) / mp.mpf(sigma)
    e = mp.mpf(eps)
    exact = mp.ncdf(mu / 2 - e / mu) - mp.e**e * mp.ncdf(-mu / 2 - e / mu)
    assert exact <= delta  # the true delta, not just our evaluation of it


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    eps=st.floats(0.3, 10.0),
    log10_delta=st.floats(-8.0, -4.0),
    q=st.floats(0.001, 0.2),
    steps=st.integers(1, 3000),
)
def test_dpsgd_never_overshoots_and_is_within_a_tenth_of_a_percent(eps, log10_delta, q, steps):
    delta = 10.0**log10_delta
    sigma = calibrate_dpsgd(eps, delta, q, steps)
    assert _dpsgd_eps(q, sigma, steps, delta) <= eps
    assert _dpsgd_eps(q, sigma * (1 - 1e-3), steps, delta) > eps


def test_dpsgd_published_vector():
    # aijack / moments-accountant test: eps=8, delta=1e-5, q=0.04, 90 epochs, integer orders 2..72
    # -> noise multiplier ~1.4253 (their tolerance 1%)
    sigma = calibrate_dpsgd(8.0, 1e-5, 0.04, 2250, orders=np.arange(2, 73))
    assert sigma == pytest.approx(1.425307617, rel=1e-2)
    # and the forward direction at sigma=1.5 gives 7.329 (see test_accounting_rdp)
    assert calibrate_dpsgd(7.32911117143, 1e-5, 0.04, 2250) == pytest.approx(1.5, rel=1e-7)


def test_dpsgd_full_batch_q_one():
    sigma = calibrate_dpsgd(2.0, 1e-6, 1.0, 10)
    orders = np.asarray(DEFAULT_ORDERS)
    assert rdp_to_epsilon(orders, 10 * orders / (2 * sigma**2), 1e-6)[0] <= 2.0


def test_zcdp_calibration_fits_a_ledger_exactly():
    for rho, k, sens in [(0.1, 1, 1.0), (0.3, 3, 1.0), (0.123456789, 17, 2.5), (1e-4, 1000, 0.3)]:
        sigma = calibrate_gaussian_zcdp(rho, n_measurements=k, sensitivity=sens)
        assert sigma == pytest.approx(sens * math.sqrt(k / (2 * rho)), rel=1e-10)
        ledger = Budget(rho=rho).ledger()
        for j in range(k):
            ledger.spend(sigma=sigma, sensitivity=sens, name=f"m{j}")
        assert ledger.spent <= rho
        assert k * gaussian_zcdp(sigma, sens) <= rho


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: calibrate_gaussian(1.0, 1e-5, n_measurements=0), ValueError,
         r"The 'n_measurements' parameter of calibrate_gaussian must be an int in the range \[1, inf\). Got 0 instead."),
        (lambda: calibrate_gaussian(1.0, 1.0), PrivacyParameterError,
         r"The 'delta' parameter of calibrate_gaussian must be a finite number in \(0.0, 1.0\). Got 1.0 instead."),
        (lambda: calibrate_dpsgd(1.0, 1e-5, 0.0, 100), PrivacyParameterError,
         r"The 'q' parameter of calibrate_dpsgd must be a finite number in \(0.0, 1.0\]. Got 0.0 instead."),
        (lambda: calibrate_dpsgd(1.0, 1e-5, 0.1, 0), ValueError,
         r"The 'steps' parameter of calibrate_dpsgd must be an int in the range \[1, inf\). Got 0 instead."),
        (lambda: calibrate_gaussian_zcdp(0.0), PrivacyParameterError,
         r"The 'rho' parameter of calibrate_gaussian_zcdp must be a finite number in \(0.0, inf\). Got 0.0 instead."),
    ],
)
def test_bad_parameters(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_smallest_feasible_returns_an_evaluated_feasible_point():
    from redp.accounting._search import smallest_feasible

    seen = []

    def ok(x):
        seen.append(x)
        return x >= 3.0

    x = smallest_feasible(ok, 100.0, error=ValueError("none"))
    assert x >= 3.0 and x in seen and math.nextafter(x, 0.0) < 3.0
    assert smallest_feasible(lambda v: v >= 3.0, 1.0, rtol=1e-3, error=ValueError()) <= 3.0 * (1 + 1e-3)
    assert smallest_feasible(lambda v: True, 1.0, lower=0.1, error=ValueError()) == pytest.approx(0.125)
    with pytest.raises(ValueError, match="none"):
        smallest_feasible(lambda v: False, 1.0, upper=1e3, error=ValueError("none"))


def test_calibrate_dpsgd_with_prior_rho():
    from redp.errors import BudgetExceededError

    sigma0 = calibrate_dpsgd(3.0, 1e-6, 0.02, 500)
    sigma = calibrate_dpsgd(3.0, 1e-6, 0.02, 500, prior_rho=0.05)
    orders = np.asarray(DEFAULT_ORDERS)
    rdp = lambda s: subsampled_gaussian_rdp(0.02, s, 500, orders) + 0.05 * orders  # noqa: E731
    assert sigma > sigma0
    assert rdp_to_epsilon(orders, rdp(sigma), 1e-6)[0] <= 3.0 < rdp_to_epsilon(orders, rdp(sigma * (1 - 1e-6)), 1e-6)[0]
    with pytest.raises(BudgetExceededError, match="leaves nothing of epsilon = 1 for DP-SGD"):
        calibrate_dpsgd(1.0, 1e-6, 0.02, 500, prior_rho=1.0)
