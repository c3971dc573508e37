"""redp.accounting.gaussian: one Gaussian mechanism (zCDP, RDP, GDP, analytic Gaussian)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redp.accounting import (
    delta_for_gaussian,
    gaussian_gdp_mu,
    gaussian_rdp,
    gaussian_sigma,
    gaussian_zcdp,
)
from redp.accounting._special import log_erfc, log_ndtr
from redp.errors import InputTypeError, PrivacyParameterError

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


def _mp_delta(epsilon, sigma, sensitivity=1.0):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    mu = mp.mpf(sensitivity) / mp.mpf(sigma)
    eps = mp.mpf(epsilon)
    return mp.ncdf(mu / 2 - eps / mu) - mp.e**eps * mp.ncdf(-mu / 2 - eps / mu)


def test_closed_forms_are_exact():
    assert gaussian_zcdp(4.0) == 1 / 32
    assert gaussian_zcdp(2.0, sensitivity=3.0) == 9 / 8
    assert gaussian_gdp_mu(4.0, sensitivity=2.0) == 0.5
    np.testing.assert_array_equal(gaussian_rdp([2.0, 10.0], 2.0, 2.0), [1.0, 5.0])
    assert gaussian_rdp(3.0, 1.0) == 1.5


def test_published_analytic_gaussian_sigma():
    # Balle & Wang (2018): epsilon = 1, delta = 1e-5, sensitivity 1
    assert gaussian_sigma(1.0, 1e-5) == pytest.approx(3.7306316348, abs=1e-10)


@pytest.mark.parametrize(
    "epsilon, sigma",
    [(1.0, 3.7306316348), (1.0, 7.487), (1.0, 36.87), (0.1, 50.0), (5.0, 0.3), (0.01, 1000.0), (2.0, 0.9),
     (0.5, 20.0), (0.0, 3.0)],
)
def test_delta_matches_high_precision_and_is_never_below(epsilon, sigma):
    exact = float(_mp_delta(epsilon, sigma))
    got = delta_for_gaussian(epsilon, sigma)
    assert got >= exact
    assert got == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("delta", [1e-15, 1e-50, 1e-100, 1e-300])
def test_sigma_for_tiny_delta_is_tight_and_safe(delta):
    sigma = gaussian_sigma(1.0, delta)
    assert delta_for_gaussian(1.0, sigma) <= delta
    assert float(_mp_delta(1.0, sigma)) <= delta
    # 1e-9 smaller noise already breaks the target (the sigma is the smallest one)
    assert float(_mp_delta(1.0, sigma * (1 - 1e-6))) > delta


def test_sigma_scales_with_sensitivity():
    s1 = gaussian_sigma(0.7, 1e-8)
    s3 = gaussian_sigma(0.7, 1e-8, sensitivity=3.0)
    assert s3 / s1 == pytest.approx(3.0, rel=1e-12)


@SETTINGS
@given(
    eps=st.floats(0.01, 20.0),
    log10_delta=st.floats(-30.0, -1.0),
    sensitivity=st.floats(0.01, 100.0),
)
def test_sigma_never_overshoots(eps, log10_delta, sensitivity):
    delta = 10.0**log10_delta
    sigma = gaussian_sigma(eps, delta, sensitivity)
    assert delta_for_gaussian(eps, sigma, sensitivity) <= delta
    assert delta_for_gaussian(eps, sigma * (1 - 1e-9), sensitivity) > delta


@SETTINGS
@given(eps=st.floats(0.0, 10.0), s1=st.floats(0.2, 50.0), factor=st.floats(1.01, 3.0))
def test_delta_falls_with_sigma_and_epsilon(eps, s1, factor):
    d = delta_for_gaussian(eps, s1)
    assert delta_for_gaussian(eps, s1 * factor) <= d
    assert delta_for_gaussian(eps + 0.1, s1) <= d


def test_log_special_functions_against_scipy():
    special = pytest.importorskip("scipy.special")
    for x in [-30.0, -5.0, -0.5, 0.0, 0.3, 2.0, 7.99, 8.01, 15.0, 40.0, 1e3]:
        assert log_erfc(x) == pytest.approx(float(special.log_ndtr(-x * math.sqrt(2))) + math.log(2), rel=1e-13, abs=1e-15)
        assert log_ndtr(-x) == pytest.approx(float(special.log_ndtr(-x)), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: gaussian_zcdp(0.0), r"The 'sigma' parameter of gaussian_zcdp must be a finite number in \(0.0, inf\). Got 0.0 instead."),
        (lambda: gaussian_zcdp(1.0, -1.0), r"The 'sensitivity' parameter of gaussian_zcdp must be a finite number in \(0.0, inf\). Got -1.0 instead."),
        (lambda: gaussian_sigma(1.0, 0.0), r"The 'delta' parameter of gaussian_sigma must be a finite number in \(0.0, 1.0\). Got 0.0 instead."),
        (lambda: gaussian_sigma(0.0, 1e-5), r"The 'epsilon' parameter of gaussian_sigma must be a finite number in \(0.0, inf\). Got 0.0 instead."),
        (lambda: delta_for_gaussian(-1.0, 1.0), r"The 'epsilon' parameter of delta_for_gaussian must be a finite number in \[0.0, inf\). Got -1.0 instead."),
        (lambda: gaussian_rdp([0.5, 2.0], 1.0), r"The 'orders' parameter of gaussian_rdp must hold Renyi orders in \(1, inf\]. Got 0.5 instead."),
    ],
)
def test_bad_parameters_raise_typed_errors(call, match):
    with pytest.raises(PrivacyParameterError, match=match):
        call()


def test_non_numbers_raise_input_type_error():
    with pytest.raises(InputTypeError, match="The 'sigma' parameter of gaussian_zcdp must be a real number"):
        gaussian_zcdp("1.0")
