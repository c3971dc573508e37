"""redp.accounting.rdp: subsampled-Gaussian RDP (exact, signed series) and RDP -> (eps, delta)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redp import _reference
from redp.accounting import DEFAULT_ORDERS, rdp_to_epsilon, subsampled_gaussian_rdp
from redp.accounting import rdp as rdp_module
from redp.errors import InputTypeError, NumericalPrecisionError, PrivacyParameterError

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)
ORDERS = np.asarray(DEFAULT_ORDERS)


def _mp_rdp(q, sigma, order, dps=40):
    """One-step RDP by 40-digit quadrature of the defining integral."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = dps
    q, s, a = mp.mpf(q), mp.mpf(sigma), mp.mpf(order)

    def f(z):
        return mp.npdf(z, 0, s) * (1 - q + q * mp.e ** ((2 * z - 1) / (2 * s * s))) ** a

    z0 = s * s * mp.log(1 / q - 1) + mp.mpf(0.5)
    pts = sorted({-mp.inf, -20 * s, z0 - 5 * s, z0, z0 + 5 * s, mp.mpf(0), a, a + 40 * s, mp.inf})
    return float(mp.log(mp.quad(f, pts)) / (a - 1))


def test_default_orders_are_opacus_defaults():
    assert DEFAULT_ORDERS == tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))
    assert len(DEFAULT_ORDERS) == 151


def test_published_vectors_dp_accounting_integer_orders():
    # dp-accounting / TF-privacy test: q=0.01, sigma=2.5, 50 steps
    r = subsampled_gaussian_rdp(0.01, 2.5, 50, [5.0, 50.0, 100.0, np.inf])
    np.testing.assert_allclose(r[:3], [2.18075656e-03, 2.38460375e-02, 1.67416308e02], rtol=1e-8)
    assert r[3] == np.inf


def test_published_vectors_fractional_orders_signed_series():
    # TF-privacy (signed series): orders 1.5 and 2.5 -> 6.5007e-04, 1.0854e-03
    r = subsampled_gaussian_rdp(0.01, 2.5, 50, [1.5, 2.5])
    assert r[0] == pytest.approx(6.5007e-04, abs=5e-9)  # half a unit in the last published digit
    assert r[1] == pytest.approx(1.0854e-03, abs=5e-8)


def test_published_dpsgd_epsilon():
    # sigma=1.5, q=0.04, 90 epochs (2250 steps), delta=1e-5, Opacus default orders -> 7.32911117
    rdp = subsampled_gaussian_rdp(0.04, 1.5, 2250, DEFAULT_ORDERS)
    eps, order = rdp_to_epsilon(DEFAULT_ORDERS, rdp, 1e-5)
    assert eps == pytest.approx(7.32911117143, rel=1e-9)
    assert order == 3.9


@pytest.mark.parametrize(
    "q, sigma, order",
    [(0.01, 2.5, 1.5), (0.5, 0.5, 1.1), (0.5, 0.5, 3.7), (0.9, 2.0, 1.3), (0.3, 0.3, 1.05),
     (0.001, 10.0, 20.5), (0.1, 0.8, 2.2), (0.04, 1.5, 3.9), (0.2, 5.0, 40.5), (0.99, 1.0, 2.5),
     (0.02, 1.0, 7.0), (0.6, 0.7, 12.0)],
)
def test_matches_high_precision_quadrature(q, sigma, order):
    exact = _mp_rdp(q, sigma, order)
    got = subsampled_gaussian_rdp(q, sigma, 1, order)
    assert got == pytest.approx(exact, rel=1e-9)
    assert got >= exact * (1 - 1e-13)  # an upper bound up to the last few bits


def test_tiny_rdp_stays_an_upper_bound():
    # log A ~ 6e-13: the fractional series pads log A so it never understates
    exact = _mp_rdp(1e-6, 1.0, 1.5)
    got = subsampled_gaussian_rdp(1e-6, 1.0, 1, 1.5)
    assert exact <= got <= exact * 1.01
    # integer orders sum A - 1 directly: full relative precision even here
    assert subsampled_gaussian_rdp(1e-6, 1.0, 1, 2.0) == pytest.approx(_mp_rdp(1e-6, 1.0, 2.0), rel=1e-12)


def test_matches_quadrature_reference(rng):
    for _ in range(8):
        q = float(rng.uniform(0.05, 0.95))
        sigma = float(rng.uniform(0.4, 4.0))
        order = float(rng.choice([rng.uniform(1.05, 12.0), rng.integers(2, 40)]))
        ref = _reference.subsampled_gaussian_rdp_quadrature(q, sigma, order)
        assert subsampled_gaussian_rdp(q, sigma, 1, order) == pytest.approx(ref, rel=1e-7)


def test_cross_check_dp_accounting(rng):
    rdp_lib = pytest.importorskip("dp_accounting.rdp.rdp_privacy_accountant")
    for _ in range(10):
        q = float(10 ** rng.uniform(-3, -0.3))
        sigma = float(rng.uniform(0.6, 5.0))
        steps = int(rng.integers(1, 5000))
        int_orders = np.arange(2.0, 64.0)
        frac_orders = np.array(DEFAULT_ORDERS[:99])
        ours_int = subsampled_gaussian_rdp(q, sigma, steps, int_orders)
        theirs_int = rdp_lib._compute_rdp_poisson_subsampled_gaussian(q, sigma, int_orders) * steps
        np.testing.assert_allclose(ours_int, theirs_int, rtol=1e-10)
        # dp-accounting >= 0.4 sums |terms| at fractional orders: a valid but looser bound
        ours_frac = subsampled_gaussian_rdp(q, sigma, steps, frac_orders)
        theirs_frac = rdp_lib._compute_rdp_poisson_subsampled_gaussian(q, sigma, frac_orders) * steps
        ok = np.isfinite(theirs_frac)
        pad = steps * 2.0**-50 / (frac_orders - 1)  # our conservative pad on log A, see _series
        assert np.all(ours_frac[ok] <= (theirs_frac * (1 + 1e-10) + 2 * pad)[ok])
        # and the exact curve is non-decreasing in the order across both paths
        both = subsampled_gaussian_rdp(q, sigma, steps, ORDERS)
        assert np.all(np.diff(both) >= -1e-12 * both[1:])


def test_cross_check_dp_accounting_epsilon():
    dpa = pytest.importorskip("dp_accounting")
    from dp_accounting.rdp import rdp_privacy_accountant as rdp_lib

    orders = list(range(2, 64))
    for q, sigma, steps, delta in [(0.01, 1.1, 1000, 1e-5), (0.1, 2.0, 300, 1e-6), (0.004, 0.8, 20000, 1e-7)]:
        acc = rdp_lib.RdpAccountant(orders)
        acc.compose(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), steps)
        theirs, theirs_order = acc.get_epsilon_and_optimal_order(delta)
        ours, our_order = rdp_to_epsilon(orders, subsampled_gaussian_rdp(q, sigma, steps, orders), delta)
        assert ours == pytest.approx(theirs, rel=1e-10)
        assert our_order == theirs_order


def test_edge_cases_q_one_q_zero_steps_zero():
    np.testing.assert_allclose(subsampled_gaussian_rdp(1.0, 2.0, 3, [1.5, 4.0]), 3 * np.array([1.5, 4.0]) / 8.0)
    np.testing.assert_array_equal(subsampled_gaussian_rdp(0.0, 2.0, 3, [1.5, 4.0, np.inf]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(subsampled_gaussian_rdp(0.3, 2.0, 0, [1.5, 4.0]), [0.0, 0.0])
    assert isinstance(subsampled_gaussian_rdp(0.3, 2.0, 1, 4.0), float)


def test_integer_and_fractional_paths_agree_near_integers():
    # the fractional series at 3 +- 1e-9 must bracket the exact integer sum at 3
    lo, mid, hi = subsampled_gaussian_rdp(0.05, 1.2, 1, [3 - 1e-9, 3.0, 3 + 1e-9])
    assert lo <= mid * (1 + 1e-8) and mid <= hi * (1 + 1e-8)
    assert mid == pytest.approx(lo, rel=1e-7)


@SETTINGS
@given(
    q=st.floats(0.001, 0.5),
    sigma=st.floats(0.5, 5.0),
    steps=st.integers(1, 10_000),
    log10_delta=st.floats(-10.0, -3.0),
    factor=st.floats(1.01, 2.0),
)
def test_epsilon_monotonicity(q, sigma, steps, log10_delta, factor):
    delta = 10.0**log10_delta

    def eps(q_, s_, t_, d_):
        return rdp_to_epsilon(ORDERS, subsampled_gaussian_rdp(q_, s_, t_, ORDERS), d_)[0]

    e = eps(q, sigma, steps, delta)
    assert e > 0.0
    assert eps(q, sigma * factor, steps, delta) <= e  # more noise
    assert eps(q, sigma, steps, min(delta * factor, 0.5)) <= e  # larger delta
    assert eps(q, sigma, int(steps * factor) + 1, delta) >= e  # more steps
    assert eps(min(q * factor, 1.0), sigma, steps, delta) >= e  # higher sampling rate


def test_rdp_to_epsilon_formula():
    orders = [2.0, 4.0, 8.0]
    rdp = [0.1, 0.2, 0.4]
    delta = 1e-5
    expect = [r - (math.log(delta) + math.log(a)) / (a - 1) + math.log((a - 1) / a) for a, r in zip(orders, rdp)]
    eps, order = rdp_to_epsilon(orders, rdp, delta)
    assert eps == pytest.approx(min(expect), rel=1e-14)
    assert order == 8.0
    # an all-zero curve is legitimately (0, delta)-DP
    assert rdp_to_epsilon([2.0, 3.0], [0.0, 0.0], delta)[0] == 0.0
    assert rdp_to_epsilon([2.0, 1e6], [1e-9, 1e-9], delta) == (0.0, 1e6)
    # order inf with rdp inf is skipped by the minimum
    assert rdp_to_epsilon([2.0, np.inf], [0.1, np.inf], delta)[1] == 2.0


def test_numerical_trouble_raises_instead_of_small_epsilon(monkeypatch):
    with pytest.raises(NumericalPrecisionError, match="got NaN RDP values"):
        rdp_to_epsilon([2.0, 3.0], [0.1, np.nan], 1e-5)
    with pytest.raises(NumericalPrecisionError, match="got negative RDP values"):
        rdp_to_epsilon([2.0, 3.0], [0.1, -1e-3], 1e-5)
    monkeypatch.setattr(rdp_module._series, "rdp_orders", lambda q, s, o: np.full(o.shape, np.nan))
    with pytest.raises(NumericalPrecisionError, match="could not evaluate the subsampled-Gaussian RDP series"):
        subsampled_gaussian_rdp(0.1, 1.0, 10, [2.0, 3.5])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: subsampled_gaussian_rdp(1.5, 1.0, 1, [2.0]), PrivacyParameterError,
         r"The 'q' parameter of subsampled_gaussian_rdp must be a finite number in \[0.0, 1.0\]. Got 1.5 instead."),
        (lambda: subsampled_gaussian_rdp(0.1, 0.0, 1, [2.0]), PrivacyParameterError,
         r"The 'noise_multiplier' parameter of subsampled_gaussian_rdp must be a finite number in \(0.0, inf\). Got 0.0 instead."),
        (lambda: subsampled_gaussian_rdp(0.1, 1.0, -1, [2.0]), ValueError,
         r"The 'steps' parameter of subsampled_gaussian_rdp must be an int in the range \[0, inf\). Got -1 instead."),
        (lambda: subsampled_gaussian_rdp(0.1, 1.0, 1, [1.0, 2.0]), PrivacyParameterError,
         r"The 'orders' parameter of subsampled_gaussian_rdp must hold Renyi orders in \(1, inf\]. Got 1.0 instead."),
        (lambda: subsampled_gaussian_rdp(0.1, 1.0, 1, ["a"]), InputTypeError,
         r"The 'orders' parameter of subsampled_gaussian_rdp must be a real number or a 1-D array of reals."),
        (lambda: rdp_to_epsilon([2.0, 3.0], [0.1], 1e-5), PrivacyParameterError,
         r"The 'rdp' parameter of rdp_to_epsilon must have one value per order. Got 1 values for 2 orders instead."),
        (lambda: rdp_to_epsilon([2.0], [0.1], 0.0), PrivacyParameterError,
         r"The 'delta' parameter of rdp_to_epsilon must be a finite number in \(0.0, 1.0\). Got 0.0 instead."),
    ],
)
def test_bad_parameters(call, error, match):
    with pytest.raises(error, match=match):
        call()
