"""redp.accounting.zcdp: CKS / Bun-Steinke conversions and their inverse."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redp.accounting import (
    epsilon_to_zcdp,
    zcdp_to_delta,
    zcdp_to_epsilon,
    zcdp_to_epsilon_bun_steinke,
)
from redp.accounting.zcdp import cks_epsilon
from redp.errors import PrivacyParameterError

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


def _grid_epsilon(rho, delta):
    """min over a dense alpha grid of the CKS formula (>= the exact minimum)."""
    a = 1.0 + np.logspace(-8, 8, 400_001)
    eps = a * rho - (math.log(delta) + np.log(a)) / (a - 1.0) + np.log1p(-1.0 / a)
    return max(float(eps.min()), 0.0)


def _grid_delta(rho, epsilon):
    a = 1.0 + np.logspace(-8, 8, 400_001)
    log_d = (a - 1.0) * (a * rho - epsilon) + a * np.log1p(-1.0 / a) - np.log(a - 1.0)
    return min(math.exp(float(log_d.min())), 1.0)


def test_published_vectors_opendp():
    # OpenDP: Gaussian of scale 4, sensitivity 1 (rho = 1/32) at delta = 1e-3 -> 0.6880024554878086
    eps = zcdp_to_epsilon(1 / 32, 1e-3)
    assert 0.6880024554878086 <= eps <= 0.6880024554878086 * (1 + 1e-14)
    # OpenDP gives epsilon 0 at this delta; we round the same bound up by a few ulps
    assert 0.0 <= zcdp_to_epsilon(1 / 32, 0.1508457845622862) < 1e-15
    assert zcdp_to_epsilon(1 / 32, 0.16) == 0.0


def test_published_vector_cks_delta():
    # Canonne-Kamath-Steinke delta(rho=0.05, epsilon=0.25)
    d = zcdp_to_delta(0.05, 0.25)
    assert 0.0817727531036956 <= d <= 0.0817727531036956 * (1 + 1e-13)


@pytest.mark.parametrize("rho, delta", [(1e-6, 1e-9), (0.01, 1e-5), (1 / 32, 1e-3), (0.5, 1e-6), (3.0, 1e-12), (50.0, 0.3)])
def test_epsilon_is_the_minimum_over_alpha(rho, delta):
    eps = zcdp_to_epsilon(rho, delta)
    grid = _grid_epsilon(rho, delta)
    assert eps <= grid + 1e-12
    assert eps >= grid - 1e-6 * max(grid, 1e-3)


@pytest.mark.parametrize("rho, epsilon", [(1e-4, 0.1), (0.05, 0.25), (0.5, 3.0), (2.0, 10.0), (0.01, 0.0)])
def test_delta_is_the_minimum_over_alpha(rho, epsilon):
    d = zcdp_to_delta(rho, epsilon)
    grid = _grid_delta(rho, epsilon)
    assert d <= grid * (1 + 1e-12)
    assert d >= grid * (1 - 1e-6)


@SETTINGS
@given(log_rho=st.floats(-8.0, 2.0), log10_delta=st.floats(-14.0, -1.0))
def test_epsilon_and_delta_are_inverse(log_rho, log10_delta):
    rho, delta = math.exp(log_rho), 10.0**log10_delta
    eps = zcdp_to_epsilon(rho, delta)
    if eps > 0.0:
        d = zcdp_to_delta(rho, eps)
        assert d == pytest.approx(delta, rel=1e-8)
        assert d <= delta * (1 + 1e-12)  # conservative rounding of epsilon


@SETTINGS
@given(log_rho=st.floats(-8.0, 2.0), log10_delta=st.floats(-14.0, -1.0))
def test_bun_steinke_is_looser(log_rho, log10_delta):
    rho, delta = math.exp(log_rho), 10.0**log10_delta
    assert zcdp_to_epsilon(rho, delta) <= zcdp_to_epsilon_bun_steinke(rho, delta)
    assert zcdp_to_epsilon_bun_steinke(rho, delta) == rho + 2 * math.sqrt(rho * math.log(1 / delta))


@SETTINGS
@given(log_rho=st.floats(-8.0, 2.0), factor=st.floats(1.001, 4.0), log10_delta=st.floats(-14.0, -1.0))
def test_monotone_in_rho_and_delta(log_rho, factor, log10_delta):
    rho, delta = math.exp(log_rho), 10.0**log10_delta
    eps = zcdp_to_epsilon(rho, delta)
    assert zcdp_to_epsilon(rho * factor, delta) >= eps
    assert zcdp_to_epsilon(rho, min(delta * factor, 0.99)) <= eps


@SETTINGS
@given(eps=st.floats(0.01, 50.0), log10_delta=st.floats(-15.0, -1.0))
def test_epsilon_to_zcdp_never_overshoots_and_is_largest(eps, log10_delta):
    delta = 10.0**log10_delta
    rho = epsilon_to_zcdp(eps, delta)
    assert zcdp_to_epsilon(rho, delta) <= eps
    assert zcdp_to_epsilon(rho * (1 + 1e-9), delta) > eps


def test_vectorised_kernel_equals_scalar():
    rhos = np.array([0.0, 1e-9, 1e-3, 0.1, 1.0, 30.0])
    got = cks_epsilon(rhos, math.log(1e-7))
    np.testing.assert_array_equal(got, [zcdp_to_epsilon(r, 1e-7) for r in rhos])


def test_zero_rho_is_zero_epsilon():
    assert zcdp_to_epsilon(0.0, 1e-9) == 0.0
    assert zcdp_to_delta(0.0, 0.5) == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: zcdp_to_epsilon(-0.1, 1e-5), r"The 'rho' parameter of zcdp_to_epsilon must be a finite number in \[0.0, inf\). Got -0.1 instead."),
        (lambda: zcdp_to_epsilon(0.1, 0.0), r"The 'delta' parameter of zcdp_to_epsilon must be a finite number in \(0.0, 1.0\). Got 0.0 instead."),
        (lambda: zcdp_to_delta(0.1, -1.0), r"The 'epsilon' parameter of zcdp_to_delta must be a finite number in \[0.0, inf\). Got -1.0 instead."),
        (lambda: epsilon_to_zcdp(0.0, 1e-5), r"The 'epsilon' parameter of epsilon_to_zcdp must be a finite number in \(0.0, inf\). Got 0.0 instead."),
        (lambda: epsilon_to_zcdp(1.0, float("nan")), r"The 'delta' parameter of epsilon_to_zcdp must be a finite number in \(0.0, 1.0\). Got nan instead."),
    ],
)
def test_bad_parameters(call, match):
    with pytest.raises(PrivacyParameterError, match=match):
        call()
